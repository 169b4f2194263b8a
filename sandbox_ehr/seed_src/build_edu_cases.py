"""Writes ``sandbox_ehr/seed/edu_cases.json``: the hand-written patients for the product's real cases.

Run ``python -m sandbox_ehr.seed_src.build_edu_cases`` after editing; the JSON is what the sandbox loads.
Everything is synthetic: names, NPIs (9xxxxxxxxx cannot be real NPIs), member ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
NUCC = "http://nucc.org/provider-taxonomy"
SOPT = "https://nahdo.org/sopt"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
NPI = "http://hl7.org/fhir/sid/us-npi"
ORDERABLE = "http://riverside-clinic.example.org/fhir/CodeSystem/orderables"
CLASS_DISPLAY = {"AMB": "ambulatory", "HH": "home health", "VR": "virtual"}


def cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def put(resource: dict[str, Any]) -> dict[str, Any]:
    ref = f"{resource['resourceType']}/{resource['id']}"
    return {
        "fullUrl": f"http://sandbox.invalid/fhir/{ref}",
        "resource": resource,
        "request": {"method": "PUT", "url": ref},
    }


PRACTITIONERS = [
    ("md-hughes", "Alan", "Hughes", "MD", "207Q00000X", "Family Medicine Physician", "9000000001"),
    ("np-lopez", "Maria", "Lopez", "NP", "363L00000X", "Nurse Practitioner", "9000000002"),
    ("pt-rivera", "Dana", "Rivera", "PT, DPT", "225100000X", "Physical Therapist", "9000000003"),
    ("pta-cho", "Sam", "Cho", "PTA", "225200000X", "Physical Therapy Assistant", "9000000004"),
    ("ot-nguyen", "Lan", "Nguyen", "OTR/L", "225X00000X", "Occupational Therapist", "9000000005"),
    ("rn-okafor", "Grace", "Okafor", "RN, CDCES", "163W00000X", "Registered Nurse", "9000000006"),
    ("rd-patel", "Priya", "Patel", "RDN", "133V00000X", "Dietitian, Registered", "9000000007"),
    ("chw-baker", "Jordan", "Baker", "CHW", "172V00000X", "Community Health Worker", "9000000008"),
]

PAYERS = [
    ("payer-medicare", "Medicare Part B (CMS)"),
    ("payer-medicare-advantage", "Sunrise Medicare Advantage Plan"),
    ("payer-medicaid", "Medi-Cal (California Medicaid)"),
    ("payer-acme-ppo", "Acme Health PPO"),
    ("payer-bluecross", "Blue Cross Blue Shield of Example"),
]


def organizations() -> list[dict[str, Any]]:
    clinic = {
        "resourceType": "Organization",
        "id": "org-riverside-clinic",
        "active": True,
        "name": "Riverside Community Clinic",
        "identifier": [{"system": NPI, "value": "9000000100"}],
        "type": [
            cc("http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider")
        ],
    }
    payers = [
        {
            "resourceType": "Organization",
            "id": pid,
            "active": True,
            "name": name,
            "type": [cc("http://terminology.hl7.org/CodeSystem/organization-type", "pay", "Payer")],
        }
        for pid, name in PAYERS
    ]
    return [clinic, *payers]


def practitioners() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pid, given, family, suffix, taxonomy, display, npi in PRACTITIONERS:
        out.append(
            {
                "resourceType": "Practitioner",
                "id": pid,
                "active": True,
                "identifier": [{"system": NPI, "value": npi}],
                "name": [{"family": family, "given": [given], "suffix": [suffix]}],
                "qualification": [{"code": cc(NUCC, taxonomy, display)}],
            }
        )
        out.append(
            {
                "resourceType": "PractitionerRole",
                "id": f"role-{pid}",
                "active": True,
                "practitioner": {
                    "reference": f"Practitioner/{pid}",
                    "display": f"{given} {family}, {suffix}",
                },
                "organization": {"reference": "Organization/org-riverside-clinic"},
                "code": [cc(NUCC, taxonomy, display)],
                "specialty": [cc(NUCC, taxonomy, display)],
            }
        )
    return out


def patient(pid: str, given: list[str], family: str, gender: str, birth: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "active": True,
        "identifier": [{"system": "http://riverside-clinic.example.org/mrn", "value": f"MRN-{pid}"}],
        "name": [{"use": "official", "family": family, "given": given}],
        "gender": gender,
        "birthDate": birth,
        "address": [{"city": "Riverside", "state": "CA", "postalCode": "92501"}],
    }


def coverage(pid: str, payer: str, sopt: str, sopt_display: str, member: str) -> dict[str, Any]:
    payor = {"reference": f"Patient/{pid}"} if sopt == "81" else {"reference": f"Organization/{payer}"}
    res: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": f"cov-{pid}",
        "status": "active",
        "type": cc(SOPT, sopt, sopt_display),
        "beneficiary": {"reference": f"Patient/{pid}"},
        "relationship": cc("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self", "Self"),
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "payor": [payor],
    }
    if sopt != "81":
        res["subscriberId"] = member
        res["class"] = [
            {
                "type": cc("http://terminology.hl7.org/CodeSystem/coverage-class", "plan", "Plan"),
                "value": member.split("-")[0],
                "name": sopt_display,
            }
        ]
    return res


def encounter(
    eid: str, pid: str, klass: str, start: str, end: str, who: str, kind: str, dx: list[str]
) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": ACT, "code": klass, "display": CLASS_DISPLAY[klass]},
        "type": [{"text": kind}],
        "subject": {"reference": f"Patient/{pid}"},
        "participant": [
            {
                "type": [
                    cc(
                        "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "PPRF",
                        "primary performer",
                    )
                ],
                "individual": {"reference": f"Practitioner/{who}"},
            }
        ],
        "period": {"start": start, "end": end},
        "diagnosis": [
            {"condition": {"reference": f"Condition/{c}"}, "rank": i + 1} for i, c in enumerate(dx)
        ],
        "serviceProvider": {"reference": "Organization/org-riverside-clinic"},
    }


def diagnosis(cid: str, pid: str, eid: str, icd: str, display: str, onset: str) -> dict[str, Any]:
    """Encounter diagnosis as EHRs send it: ICD-10-CM coded, tied to the encounter."""
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": cc(CLIN, "active", "Active"),
        "verificationStatus": cc(VER, "confirmed", "Confirmed"),
        "category": [cc(CAT, "encounter-diagnosis", "Encounter Diagnosis")],
        "code": cc(ICD10, icd, display),
        "subject": {"reference": f"Patient/{pid}"},
        "encounter": {"reference": f"Encounter/{eid}"},
        "onsetDateTime": onset,
        "recordedDate": onset,
    }


def problem(cid: str, pid: str, sct: str, display: str, onset: str) -> dict[str, Any]:
    """Problem-list item as EHRs keep it: SNOMED CT only, no encounter."""
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": cc(CLIN, "active", "Active"),
        "verificationStatus": cc(VER, "confirmed", "Confirmed"),
        "category": [cc(CAT, "problem-list-item", "Problem List Item")],
        "code": cc(SNOMED, sct, display),
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": onset,
        "recordedDate": onset,
    }


def order(
    sid: str,
    pid: str,
    code: str,
    text: str,
    authored: str,
    reason: str,
    requester: str = "md-hughes",
    performer: str | None = None,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": sid,
        "status": "active",
        "intent": "order",
        "code": {"coding": [{"system": ORDERABLE, "code": code, "display": text}], "text": text},
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": authored,
        "requester": {"reference": f"Practitioner/{requester}"},
        "reasonReference": [{"reference": f"Condition/{reason}"}],
    }
    if performer:
        res["performer"] = [{"reference": f"Practitioner/{performer}"}]
    return res


def cases() -> list[dict[str, Any]]:
    r: list[dict[str, Any]] = []
    # 1. Commercial, type 2 diabetes, DSME ordered by the physician, RN teaches in the office: 98960.
    r += [
        patient("edu-dm-commercial", ["Carmen"], "Delgado", "female", "1972-05-14"),
        coverage("edu-dm-commercial", "payer-acme-ppo", "5", "PRIVATE HEALTH INSURANCE", "ACME-55012"),
        problem(
            "prob-dm-commercial-t2dm",
            "edu-dm-commercial",
            "44054006",
            "Diabetes mellitus type 2",
            "2024-09-01",
        ),
        diagnosis(
            "dx-dm-commercial-e119",
            "edu-dm-commercial",
            "enc-dm-commercial-0302",
            "E11.9",
            "Type 2 diabetes mellitus without complications",
            "2026-03-02",
        ),
        order(
            "sr-dm-commercial-dsme",
            "edu-dm-commercial",
            "DSME-IND",
            "Diabetes self-management education, individual",
            "2026-02-10",
            "dx-dm-commercial-e119",
            performer="rn-okafor",
        ),
        encounter(
            "enc-dm-commercial-0302",
            "edu-dm-commercial",
            "AMB",
            "2026-03-02T09:00:00-08:00",
            "2026-03-02T09:45:00-08:00",
            "rn-okafor",
            "Diabetes education visit",
            ["dx-dm-commercial-e119"],
        ),
    ]
    # 2. Medicare FFS, knee OA, PT plan of care: 97110 (GP, 8-minute rule); a PTA follow-up for CQ.
    r += [
        patient("edu-knee-medicare", ["Harold"], "Jensen", "male", "1950-11-02"),
        coverage("edu-knee-medicare", "payer-medicare", "121", "Medicare Fee For Service", "1EG4-TE5-MK72"),
        problem(
            "prob-knee-medicare-oa", "edu-knee-medicare", "239873007", "Osteoarthritis of knee", "2023-04-11"
        ),
        diagnosis(
            "dx-knee-medicare-m1711",
            "edu-knee-medicare",
            "enc-knee-medicare-0216",
            "M17.11",
            "Unilateral primary osteoarthritis, right knee",
            "2026-02-16",
        ),
        order(
            "sr-knee-medicare-pt",
            "edu-knee-medicare",
            "PT-EVAL-TREAT",
            "Physical therapy evaluate and treat",
            "2026-01-20",
            "dx-knee-medicare-m1711",
            performer="pt-rivera",
        ),
        encounter(
            "enc-knee-medicare-0216",
            "edu-knee-medicare",
            "AMB",
            "2026-02-16T10:00:00-08:00",
            "2026-02-16T10:50:00-08:00",
            "pt-rivera",
            "Physical therapy visit",
            ["dx-knee-medicare-m1711"],
        ),
        plan_of_care(
            "cp-knee-medicare-pt",
            "edu-knee-medicare",
            "Physical therapy plan of care: right knee osteoarthritis",
            ("2026-02-16", "2026-05-16"),
            author="pt-rivera",
            certified_by="md-hughes",
            certified_on="2026-02-20",
            addresses="dx-knee-medicare-m1711",
        ),
        diagnosis(
            "dx-knee-medicare-m1711-b",
            "edu-knee-medicare",
            "enc-knee-medicare-0223",
            "M17.11",
            "Unilateral primary osteoarthritis, right knee",
            "2026-02-23",
        ),
        encounter(
            "enc-knee-medicare-0223",
            "edu-knee-medicare",
            "AMB",
            "2026-02-23T10:00:00-08:00",
            "2026-02-23T10:40:00-08:00",
            "pta-cho",
            "Physical therapy follow-up (PTA)",
            ["dx-knee-medicare-m1711-b"],
        ),
    ]
    # 3. Medicaid (Medi-Cal) asthma, community health worker visit at home under a physician's order.
    r += [
        patient("edu-asthma-medicaid", ["Rosa"], "Alvarez", "female", "1989-07-23"),
        coverage("edu-asthma-medicaid", "payer-medicaid", "2", "MEDICAID", "MCAL-90412-B"),
        problem("prob-asthma-medicaid", "edu-asthma-medicaid", "195967001", "Asthma", "2015-03-01"),
        diagnosis(
            "dx-asthma-medicaid-j4540",
            "edu-asthma-medicaid",
            "enc-asthma-medicaid-0305",
            "J45.40",
            "Moderate persistent asthma, uncomplicated",
            "2026-03-05",
        ),
        order(
            "sr-asthma-medicaid-chw",
            "edu-asthma-medicaid",
            "CHW-EDU",
            "Community health worker asthma education",
            "2026-02-20",
            "dx-asthma-medicaid-j4540",
            performer="chw-baker",
        ),
        encounter(
            "enc-asthma-medicaid-0305",
            "edu-asthma-medicaid",
            "HH",
            "2026-03-05T14:00:00-08:00",
            "2026-03-05T15:00:00-08:00",
            "chw-baker",
            "CHW home visit",
            ["dx-asthma-medicaid-j4540"],
        ),
    ]
    # 4-5. A group class: two prediabetes/obesity patients in the same dietitian-led class (98961 territory).
    for pid, given, family, birth, icd, text, sct, sct_text in (
        (
            "edu-group-prediabetes",
            ["Tom"],
            "Whitaker",
            "1966-01-30",
            "R73.03",
            "Prediabetes",
            "714628002",
            "Prediabetes",
        ),
        (
            "edu-group-obesity",
            ["Lena"],
            "Fischer",
            "1979-08-09",
            "E66.811",
            "Obesity, class 1",
            "162864005",
            "Body mass index 30+ - obesity",
        ),
    ):
        eid = f"enc-{pid[4:]}-0310"
        r += [
            patient(pid, given, family, "male" if given == ["Tom"] else "female", birth),
            coverage(pid, "payer-bluecross", "6", "BLUE CROSS/BLUE SHIELD", f"BCBS-{birth[:4]}77"),
            problem(f"prob-{pid[4:]}", pid, sct, sct_text, "2025-06-01"),
            diagnosis(f"dx-{pid[4:]}", pid, eid, icd, text, "2026-03-10"),
            order(
                f"sr-{pid[4:]}-class",
                pid,
                "DSME-GRP",
                "Group lifestyle and nutrition education class",
                "2026-02-25",
                f"dx-{pid[4:]}",
                requester="np-lopez",
                performer="rd-patel",
            ),
            encounter(
                eid,
                pid,
                "AMB",
                "2026-03-10T17:30:00-08:00",
                "2026-03-10T18:30:00-08:00",
                "rd-patel",
                "Group education class (3 patients)",
                [f"dx-{pid[4:]}"],
            ),
        ]
    # 6. Medicare Advantage heart failure, nurse education by video: telehealth rules.
    r += [
        patient("edu-hf-advantage", ["Walter"], "Brooks", "male", "1948-02-17"),
        coverage(
            "edu-hf-advantage", "payer-medicare-advantage", "111", "Medicare Managed Care", "SUN-7781220"
        ),
        problem(
            "prob-hf-advantage",
            "edu-hf-advantage",
            "88805009",
            "Chronic congestive heart failure",
            "2022-10-05",
        ),
        diagnosis(
            "dx-hf-advantage-i5022",
            "edu-hf-advantage",
            "enc-hf-advantage-0312",
            "I50.22",
            "Chronic systolic (congestive) heart failure",
            "2026-03-12",
        ),
        order(
            "sr-hf-advantage-edu",
            "edu-hf-advantage",
            "HF-SELFMGMT",
            "Heart failure self-management teaching",
            "2026-03-01",
            "dx-hf-advantage-i5022",
            requester="np-lopez",
            performer="rn-okafor",
        ),
        encounter(
            "enc-hf-advantage-0312",
            "edu-hf-advantage",
            "VR",
            "2026-03-12T11:00:00-08:00",
            "2026-03-12T11:30:00-08:00",
            "rn-okafor",
            "Video visit",
            ["dx-hf-advantage-i5022"],
        ),
    ]
    # 7. Self-pay COPD education in the office: no payer, estimate only.
    r += [
        patient("edu-copd-selfpay", ["Dmitri"], "Volkov", "male", "1961-12-01"),
        coverage("edu-copd-selfpay", "", "81", "Self-pay", ""),
        problem(
            "prob-copd-selfpay",
            "edu-copd-selfpay",
            "13645005",
            "Chronic obstructive lung disease",
            "2020-01-15",
        ),
        diagnosis(
            "dx-copd-selfpay-j449",
            "edu-copd-selfpay",
            "enc-copd-selfpay-0318",
            "J44.9",
            "Chronic obstructive pulmonary disease, unspecified",
            "2026-03-18",
        ),
        order(
            "sr-copd-selfpay-edu",
            "edu-copd-selfpay",
            "COPD-EDU",
            "COPD self-management education",
            "2026-03-04",
            "dx-copd-selfpay-j449",
            performer="rn-okafor",
        ),
        encounter(
            "enc-copd-selfpay-0318",
            "edu-copd-selfpay",
            "AMB",
            "2026-03-18T08:30:00-08:00",
            "2026-03-18T09:00:00-08:00",
            "rn-okafor",
            "Nurse education visit",
            ["dx-copd-selfpay-j449"],
        ),
    ]
    # 8. A name full of HTML (escaping test), commercial, hypertension, dietitian MNT-style teaching.
    r += [
        patient("edu-html-name", ["<b>Robert</b>", '"Bobby"'], "O'Neil & <script>", "male", "1970-04-04"),
        coverage("edu-html-name", "payer-acme-ppo", "5", "PRIVATE HEALTH INSURANCE", "ACME-70404"),
        problem("prob-html-name-htn", "edu-html-name", "38341003", "Hypertensive disorder", "2019-05-20"),
        diagnosis(
            "dx-html-name-i10",
            "edu-html-name",
            "enc-html-name-0320",
            "I10",
            "Essential (primary) hypertension",
            "2026-03-20",
        ),
        order(
            "sr-html-name-edu",
            "edu-html-name",
            "HTN-EDU",
            "Hypertension self-management education",
            "2026-03-02",
            "dx-html-name-i10",
            performer="rn-okafor",
        ),
        encounter(
            "enc-html-name-0320",
            "edu-html-name",
            "AMB",
            "2026-03-20T13:00:00-08:00",
            "2026-03-20T13:30:00-08:00",
            "rn-okafor",
            "Nurse education visit",
            ["dx-html-name-i10"],
        ),
    ]
    # 9. Medicare, stroke with right hemiplegia: OT trains the caregiver at home (97550 family).
    r += [
        patient("edu-stroke-caregiver", ["Evelyn"], "Marsh", "female", "1944-09-28"),
        coverage("edu-stroke-caregiver", "payer-medicare", "1", "MEDICARE", "2TR7-QX9-UD14"),
        problem(
            "prob-stroke-caregiver",
            "edu-stroke-caregiver",
            "230690007",
            "Cerebrovascular accident",
            "2025-11-02",
        ),
        diagnosis(
            "dx-stroke-caregiver-i69351",
            "edu-stroke-caregiver",
            "enc-stroke-caregiver-0225",
            "I69.351",
            "Hemiplegia and hemiparesis following cerebral infarction affecting right dominant side",
            "2026-02-25",
        ),
        order(
            "sr-stroke-caregiver-ot",
            "edu-stroke-caregiver",
            "OT-EVAL-TREAT",
            "Occupational therapy evaluate and treat, include caregiver training",
            "2026-01-28",
            "dx-stroke-caregiver-i69351",
            performer="ot-nguyen",
        ),
        encounter(
            "enc-stroke-caregiver-0225",
            "edu-stroke-caregiver",
            "HH",
            "2026-02-25T10:00:00-08:00",
            "2026-02-25T11:00:00-08:00",
            "ot-nguyen",
            "Home therapy visit with caregiver",
            ["dx-stroke-caregiver-i69351"],
        ),
    ]
    # 10. Commercial, diagnosis coded only to the category (E11, not billable) and seen by the physician:
    #     the specificity block and "physicians do not bill 98960".
    r += [
        patient("edu-dm-unspecified", ["Nadia"], "Karimi", "female", "1983-03-03"),
        coverage("edu-dm-unspecified", "payer-acme-ppo", "5", "PRIVATE HEALTH INSURANCE", "ACME-83033"),
        problem(
            "prob-dm-unspecified", "edu-dm-unspecified", "44054006", "Diabetes mellitus type 2", "2025-12-01"
        ),
        diagnosis(
            "dx-dm-unspecified-e11",
            "edu-dm-unspecified",
            "enc-dm-unspecified-0326",
            "E11",
            "Type 2 diabetes mellitus",
            "2026-03-26",
        ),
        encounter(
            "enc-dm-unspecified-0326",
            "edu-dm-unspecified",
            "AMB",
            "2026-03-26T15:00:00-08:00",
            "2026-03-26T15:30:00-08:00",
            "md-hughes",
            "Office visit",
            ["dx-dm-unspecified-e11"],
        ),
    ]
    return r


def bundle() -> dict[str, Any]:
    resources = organizations() + practitioners() + cases()
    return {"resourceType": "Bundle", "type": "transaction", "entry": [put(x) for x in resources]}


def plan_of_care(
    cid: str,
    pid: str,
    title: str,
    period: tuple[str, str],
    *,
    author: str,
    certified_by: str,
    certified_on: str,
    addresses: str,
) -> dict[str, Any]:
    """A therapy plan of care the physician certified (signed): Medicare needs it for therapy claims."""
    return {
        "resourceType": "CarePlan",
        "id": cid,
        "status": "active",
        "intent": "plan",
        "title": title,
        "category": [{"text": "Physical therapy plan of care"}],
        "subject": {"reference": f"Patient/{pid}"},
        "period": {"start": period[0], "end": period[1]},
        "author": {"reference": f"Practitioner/{author}"},
        "contributor": [{"reference": f"Practitioner/{certified_by}"}],
        "addresses": [{"reference": f"Condition/{addresses}"}],
        "note": [{"text": f"Certified: signed by the referring physician on {certified_on}."}],
    }


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "seed" / "edu_cases.json"
    out.write_text(json.dumps(bundle(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
