"""Writes ``sandbox_ehr/seed/month_charges.json``: a month (March 2026) of a clinic's charges.

Run ``python -m sandbox_ehr.seed_src.build_month_charges`` after editing; the JSON is what the sandbox loads.
Deterministic: one seeded random generator, fixed dates, readable ids (``mo-<n>-…``). Everything is synthetic.

What a biller must catch is planted on purpose, each on a patient whose id names it (``PLANTED`` lists them):
Medicare 98960, a 98960 without an order, a 98960 by a nurse practitioner (wrong code family), a diagnosis
that is not a valid code on the date and one that is no longer billable, a charge entered twice, a PTA's
Medicare line without CQ, and a Medicare PT patient past the KX threshold (therapy since January, no KX).
Everything else is meant to be clean: timed codes in whole 15-minute blocks so both unit methods agree.

Charges come two ways, as in a real clinic: written by this app (``fhir_mappings.write``: identifier, meta
tag, the billing-detail extension, a DocumentReference with the note, minutes and curriculum) and captured in
the EHR (no note: what a charge alone cannot show, the scrub reports as its own finding).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from billing_rules.model import ChargeLine, ServiceRecord
from billing_rules.visit import VisitRecord
from fhir_mappings.note import generate_note, note_title
from fhir_mappings.write import WriteContext, build_charge_item, build_document_reference
from sandbox_ehr.seed_src.build_edu_cases import PRACTITIONERS, coverage, diagnosis, order, patient, put
from sandbox_ehr.wiring import CLINIC_GROUP_ID

TZ = ZoneInfo("America/Los_Angeles")
MONTH = (date(2026, 3, 1), date(2026, 3, 31))
YEAR_START = date(2026, 1, 5)
CLINIC = "Organization/org-riverside-clinic"
GROUP_ID = CLINIC_GROUP_ID
SEED = 20260301

PAYERS = {  # payer org, SOPT code, SOPT display, member prefix
    "medicare": ("payer-medicare", "121", "Medicare Fee For Service", "1EG4"),
    "advantage": ("payer-medicare-advantage", "111", "Medicare HMO", "SMA"),
    "medicaid": ("payer-medicaid", "2", "MEDICAID", "MCAL"),
    "acme": ("payer-acme-ppo", "5", "PRIVATE HEALTH INSURANCE", "ACME"),
    "bcbs": ("payer-bluecross", "6", "BLUE CROSS/BLUE SHIELD", "BCBS"),
}
PT_DX = [
    ("M17.11", "Unilateral primary osteoarthritis, right knee"),
    ("M17.12", "Unilateral primary osteoarthritis, left knee"),
    ("M54.50", "Low back pain, unspecified"),
    ("M25.561", "Pain in right knee"),
    ("M62.81", "Muscle weakness (generalized)"),
]
EDU_DX = [
    (
        "E11.9",
        "Type 2 diabetes mellitus without complications",
        "Diabetes Self-Management Education (ADCES7)",
    ),
    ("E66.811", "Obesity, class 1", "Weight management self-care (nutrition and activity)"),
    ("I50.22", "Chronic systolic (congestive) heart failure", "Heart failure self-care (AHA)"),
    ("J45.40", "Moderate persistent asthma, uncomplicated", "Asthma self-management (NAEPP)"),
    ("J44.9", "Chronic obstructive pulmonary disease, unspecified", "COPD self-management (Living Well)"),
]
GIVEN = ["Ava", "Ben", "Chloe", "Diego", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kira", "Liam",
         "Mona", "Nils", "Olga", "Paulo", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wes", "Xia",
         "Yusuf", "Zoe"]  # fmt: skip
FAMILY = ["Abbott", "Baptiste", "Castillo", "Dunn", "Eriksen", "Fong", "Garza", "Haddad", "Ibarra", "Jensen",
          "Kowalski", "Lindqvist", "Moreno", "Nakamura", "Okoye", "Petrov", "Quintero", "Reyes", "Sato",
          "Tran", "Ulloa", "Vasquez", "Whitfield", "Yamada", "Zeller"]  # fmt: skip
ROLES = {"pt-rivera": "PT", "pta-cho": "PTA", "ot-nguyen": "OT", "rn-okafor": "RN", "rd-patel": "RD",
         "np-lopez": "NP", "md-hughes": "MD"}  # fmt: skip
SIGNERS = {p[0]: (f"{p[1]} {p[2]}", p[3]) for p in PRACTITIONERS}  # id -> (name, credentials)
PT_CODES = ["97110", "97112", "97140", "97530", "97116"]

#: Patient id → the finding the scrub must raise there (docs/sandbox.md lists them for billers and testers).
PLANTED = {
    "mo-edu-medicare": "payer.not-covered (98960 under Medicare FFS)",
    "mo-edu-noorder": "order.missing (98960 with no order on file)",
    "mo-edu-np": "provider.wrong-family (98960 documented by a nurse practitioner)",
    "mo-pt-dxinvalid": "dx.invalid (M17.13 is not an ICD-10-CM code on the service date)",
    "mo-pt-dxheader": "dx.not-billable (M54.5 has been a category since October 2021)",
    "mo-pt-duplicate": "duplicate.charge (97110 entered twice on 2026-03-10)",
    "mo-pt-nocq": "assistant.cq (a PTA's Medicare lines without CQ on 2026-03-12)",
    "mo-pt-kx": "kx.threshold (Medicare PT since January, past the 2026 threshold, no KX)",
}


@dataclass
class Builder:
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    resources: list[dict[str, Any]] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    names: int = 0

    def add(self, *items: dict[str, Any]) -> None:
        self.resources.extend(items)

    def new_patient(self, pid: str, payer: str, *, age: int) -> None:
        given, family = GIVEN[self.names % len(GIVEN)], FAMILY[(self.names * 7) % len(FAMILY)]
        self.names += 1
        birth = date(2026 - age, 1 + self.rng.randrange(12), 1 + self.rng.randrange(28)).isoformat()
        org, sopt, display, prefix = PAYERS[payer]
        member = f"{prefix}-{int(hashlib.sha256(pid.encode()).hexdigest()[:6], 16):08d}"
        self.add(patient(pid, [given], family, self.rng.choice(["female", "male"]), birth))
        self.add(coverage(pid, org, sopt, display, member))
        self.patients.append(pid)

    def visit(
        self,
        pid: str,
        day: date,
        who: str,
        services: Sequence[tuple[str, int, tuple[str, ...]]],
        dx: tuple[str, str],
        *,
        klass: str = "AMB",
        pos: str = "11",
        by_app: bool = False,
        curriculum: str | None = None,
        group_size: int = 1,
        duplicate: str | None = None,
    ) -> None:
        """One encounter, its diagnosis and one ChargeItem per service (code, minutes, modifiers)."""
        eid = f"enc-{pid}-{day.strftime('%m%d')}"
        start = datetime(day.year, day.month, day.day, 8 + self.rng.randrange(8), 0, tzinfo=TZ)
        end = start + timedelta(minutes=sum(m for _, m, _ in services) + 5)
        kind = "Patient education visit" if curriculum else "Therapy visit"
        self.add(encounter(eid, pid, klass, start, end, who, kind, f"dx-{eid}"))
        self.add(diagnosis(f"dx-{eid}", pid, eid, dx[0], dx[1], day.isoformat()))
        ctx = WriteContext(
            pid, eid, f"Practitioner/{who}", CLINIC, end + timedelta(minutes=20), start, end, day
        )
        lines = [
            ChargeLine(code, minutes // (30 if code.startswith("989") else 15), mods, pos, (dx[0],))
            for code, minutes, mods in services
        ]
        note_ref = None
        if by_app:  # as the app writes a signed visit: ONE note for the visit's services
            note_ref = f"DocumentReference/doc-{eid}"
            visit = VisitRecord(
                services=tuple(
                    _record(code, minutes, day, dx[0], curriculum, group_size, klass, ROLES[who])
                    for code, minutes, _ in services
                )
            )
            name, credentials = SIGNERS[who]
            labels = {dx[0]: dx[1]}
            text = generate_note(visit, charge_lines=lines, start=start, end=end, diagnosis_labels=labels,
                                 author_name=name, author_credentials=credentials)  # fmt: skip
            title, family = note_title(visit)
            doc = build_document_reference(
                ctx, identifier_value=_hash("doc", eid), note_text=text, title=title, family=family
            )
            self.add({**doc, "id": f"doc-{eid}"})
        for line in lines:
            code = line.code
            charge = build_charge_item(
                ctx, line, identifier_value=_hash("charge", eid, code), note_ref=note_ref,
                diagnosis_labels={dx[0]: dx[1]},
            )  # fmt: skip
            copies = 2 if duplicate == code else 1
            for n in range(copies):
                item = {**charge, "id": f"ci-{eid}-{code}" + (f"-{n + 1}" if n else "")}
                if not by_app:  # captured in the EHR: no app identifier or tag
                    item.pop("identifier", None)
                    item.pop("meta", None)
                self.add(item)


def _record(
    code: str, minutes: int, day: date, dx: str, curriculum: str | None, group: int, klass: str, role: Any
) -> ServiceRecord:
    topics = ("self-monitoring", "medications", "action plan") if curriculum else ()
    return ServiceRecord(
        code=code, service_date=day, minutes=minutes, curriculum=curriculum, topics=topics, diagnoses=(dx,),
        patients_in_group=group, location="home" if klass == "HH" else "office", provider_role=role,
    )  # fmt: skip


def _hash(*parts: str) -> str:
    return hashlib.sha256("|".join(("month-seed", *parts)).encode()).hexdigest()[:32]


def encounter(
    eid: str, pid: str, klass: str, start: datetime, end: datetime, who: str, kind: str, dx: str
) -> dict[str, Any]:
    display = {"AMB": "ambulatory", "HH": "home health", "VR": "virtual"}[klass]
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": klass,
            "display": display,
        },
        "type": [{"text": kind}],
        "subject": {"reference": f"Patient/{pid}"},
        "participant": [{"individual": {"reference": f"Practitioner/{who}"}}],
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "diagnosis": [{"condition": {"reference": f"Condition/{dx}"}, "rank": 1}],
        "serviceProvider": {"reference": CLINIC},
    }


def clinic_days(start: date, end: date, weekdays: tuple[int, ...]) -> list[date]:
    out, day = [], start
    while day <= end:
        if day.weekday() in weekdays:
            out.append(day)
        day += timedelta(days=1)
    return out


def pt_services(rng: random.Random, modifiers: tuple[str, ...]) -> list[tuple[str, int, tuple[str, ...]]]:
    codes = rng.sample(PT_CODES, rng.choice([2, 2, 3]))
    return [(c, rng.choice([15, 15, 30]), modifiers) for c in sorted(codes)]


def pt_patients(b: Builder) -> None:
    """PT plans of care, 2 visits a week in March; some by the PTA (CQ on Medicare)."""
    payers = ["medicare", "medicare", "medicare", "advantage", "acme", "bcbs", "medicaid"]
    for n in range(1, 19):
        pid = f"mo-{n:02d}-pt"
        payer = payers[n % len(payers)]
        b.new_patient(pid, payer, age=70 if payer in ("medicare", "advantage") else 45)
        dx = PT_DX[n % len(PT_DX)]
        b.add(_order(pid, "PT-EVAL-TREAT", "Physical therapy evaluate and treat", "2026-02-20", "pt-rivera"))
        weekdays = ((0, 3), (1, 4), (0, 2))[n % 3]
        for i, day in enumerate(clinic_days(*MONTH, weekdays)):
            pta = i % 3 == 2
            mods = ("GP", "CQ") if pta and payer in ("medicare", "advantage") else ("GP",)
            services = pt_services(b.rng, mods)
            b.visit(pid, day, "pta-cho" if pta else "pt-rivera", services, dx, by_app=n % 3 == 0)


def edu_patients(b: Builder) -> None:
    """Self-management education (98960) by the RN or dietitian, ordered by the physician; one group class."""
    payers = ["acme", "bcbs", "medicaid", "advantage"]
    for n in range(1, 13):
        pid = f"mo-{n:02d}-edu"
        payer = payers[n % len(payers)]
        b.new_patient(pid, payer, age=58)
        code, text, curriculum = EDU_DX[n % len(EDU_DX)]
        b.add(_order(pid, "DSME-IND", "Self-management education, individual", "2026-02-25", "rn-okafor"))
        who = "rd-patel" if code.startswith("E66") else "rn-okafor"
        for day in clinic_days(date(2026, 3, 2 + n % 5), MONTH[1], (n % 5,))[:3]:
            b.visit(pid, day, who, [("98960", 30 * (1 + n % 2), ())], (code, text), by_app=True,
                    curriculum=curriculum)  # fmt: skip
    # A dietitian-led group class of three (98961) on 2026-03-18.
    for n in range(1, 4):
        pid = f"mo-{n:02d}-group"
        b.new_patient(pid, "bcbs", age=50)
        b.add(_order(pid, "DSME-GRP", "Self-management education, group", "2026-03-01", "rd-patel"))
        b.visit(pid, date(2026, 3, 18), "rd-patel", [("98961", 60, ())], EDU_DX[1][:2], by_app=True,
                curriculum=EDU_DX[1][2], group_size=3)  # fmt: skip


def ot_patients(b: Builder) -> None:
    """OT self-care training at home (97535, GO), weekly."""
    for n in range(1, 5):
        pid = f"mo-{n:02d}-ot"
        b.new_patient(pid, "medicare" if n % 2 else "acme", age=74)
        b.add(
            _order(pid, "OT-EVAL-TREAT", "Occupational therapy evaluate and treat", "2026-02-18", "ot-nguyen")
        )
        dx = (
            "I69.351",
            "Hemiplegia and hemiparesis following cerebral infarction affecting right dominant side",
        )
        for day in clinic_days(*MONTH, (n % 5,)):
            b.visit(
                pid, day, "ot-nguyen", [("97535", 30, ("GO",))], dx, klass="HH", pos="12", by_app=n % 2 == 0
            )


def planted(b: Builder) -> None:
    """The cases a biller must catch (PLANTED)."""
    dm = EDU_DX[0]
    edu = [("98960", 30, ())]
    b.new_patient("mo-edu-medicare", "medicare", age=71)
    b.add(
        _order(
            "mo-edu-medicare", "DSME-IND", "Self-management education, individual", "2026-02-25", "rn-okafor"
        )
    )
    b.visit("mo-edu-medicare", date(2026, 3, 9), "rn-okafor", edu, dm[:2], by_app=True, curriculum=dm[2])
    b.new_patient("mo-edu-noorder", "acme", age=49)
    b.visit("mo-edu-noorder", date(2026, 3, 11), "rn-okafor", edu, dm[:2], by_app=True, curriculum=dm[2])
    b.new_patient("mo-edu-np", "bcbs", age=62)
    b.add(_order("mo-edu-np", "DSME-IND", "Self-management education, individual", "2026-02-25", "np-lopez"))
    b.visit("mo-edu-np", date(2026, 3, 16), "np-lopez", edu, dm[:2], by_app=True, curriculum=dm[2])
    pt = [("97110", 30, ("GP",)), ("97140", 15, ("GP",))]
    for pid, payer, dx in (
        ("mo-pt-dxinvalid", "acme", ("M17.13", "Osteoarthritis of knee (code as picked)")),
        ("mo-pt-dxheader", "bcbs", ("M54.5", "Low back pain")),
    ):
        b.new_patient(pid, payer, age=52)
        b.add(_order(pid, "PT-EVAL-TREAT", "Physical therapy evaluate and treat", "2026-02-20", "pt-rivera"))
        b.visit(pid, date(2026, 3, 17), "pt-rivera", pt, dx)
    b.new_patient("mo-pt-duplicate", "acme", age=44)
    b.add(
        _order(
            "mo-pt-duplicate",
            "PT-EVAL-TREAT",
            "Physical therapy evaluate and treat",
            "2026-02-20",
            "pt-rivera",
        )
    )
    b.visit("mo-pt-duplicate", date(2026, 3, 10), "pt-rivera", pt, PT_DX[2], duplicate="97110")
    b.new_patient("mo-pt-nocq", "medicare", age=77)
    b.add(
        _order(
            "mo-pt-nocq", "PT-EVAL-TREAT", "Physical therapy evaluate and treat", "2026-02-20", "pt-rivera"
        )
    )
    b.visit("mo-pt-nocq", date(2026, 3, 5), "pt-rivera", pt, PT_DX[0])
    b.visit("mo-pt-nocq", date(2026, 3, 12), "pta-cho", pt, PT_DX[0])  # GP only: CQ missing
    b.new_patient("mo-pt-kx", "medicare", age=80)
    b.add(
        _order("mo-pt-kx", "PT-EVAL-TREAT", "Physical therapy evaluate and treat", "2026-01-02", "pt-rivera")
    )
    heavy = [("97110", 30, ("GP",)), ("97112", 30, ("GP",)), ("97140", 15, ("GP",))]
    for day in clinic_days(YEAR_START, MONTH[1], (0, 2, 4)):
        b.visit("mo-pt-kx", day, "pt-rivera", heavy, PT_DX[1])


def _order(pid: str, code: str, text: str, authored: str, performer: str) -> dict[str, Any]:
    requester = "np-lopez" if pid == "mo-edu-np" else "md-hughes"
    return order(
        f"sr-{pid}-{code.lower()}", pid, code, text, authored, f"dx-order-{pid}", requester, performer
    )


def plans_of_care(b: Builder) -> None:
    """The therapist's plan of care for each therapy order (CarePlan, 90 days from the order), as EHRs keep
    it: the scrub's plan-timing checks read its start and end."""
    disciplines = {"PT-EVAL-TREAT": ("Physical therapy", "pt-rivera"),
                   "OT-EVAL-TREAT": ("Occupational therapy", "ot-nguyen")}  # fmt: skip
    for res in [r for r in b.resources if r["resourceType"] == "ServiceRequest"]:
        code = res["code"]["coding"][0]["code"]
        if code not in disciplines:
            continue
        pid = res["subject"]["reference"].split("/")[1]
        discipline, therapist = disciplines[code]
        start = date.fromisoformat(res["authoredOn"])
        b.add({
            "resourceType": "CarePlan",
            "id": f"cp-{pid}",
            "status": "active",
            "intent": "plan",
            "title": f"{discipline} plan of care",
            "category": [{"text": "therapy plan of care"}],
            "subject": {"reference": f"Patient/{pid}"},
            "period": {"start": start.isoformat(), "end": (start + timedelta(days=89)).isoformat()},
            "author": {"reference": f"Practitioner/{therapist}"},
            "addresses": [{"reference": f"Condition/dx-order-{pid}"}],
        })  # fmt: skip


def group(members: list[str]) -> dict[str, Any]:
    return {
        "resourceType": "Group",
        "id": GROUP_ID,
        "active": True,
        "type": "person",
        "actual": True,
        "name": "Riverside Community Clinic: patients",
        "managingEntity": {"reference": CLINIC},
        "quantity": len(members),
        "member": [{"entity": {"reference": f"Patient/{m}"}} for m in members],
    }


def order_reasons(b: Builder) -> None:
    """Each order's reason: a problem-list diagnosis of the patient (the order must point at a Condition)."""
    for res in [r for r in b.resources if r["resourceType"] == "ServiceRequest"]:
        pid = res["subject"]["reference"].split("/")[1]
        first = next(r for r in b.resources if r["resourceType"] == "Condition" and r["subject"]["reference"]
                     == f"Patient/{pid}")  # fmt: skip
        reason = {**first, "id": f"dx-order-{pid}", "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item",
            "display": "Problem List Item"}]}]}  # fmt: skip
        reason.pop("encounter", None)
        b.add(reason)


def bundle() -> dict[str, Any]:
    b = Builder()
    pt_patients(b)
    edu_patients(b)
    ot_patients(b)
    planted(b)
    order_reasons(b)
    plans_of_care(b)
    edu_ids = ["edu-dm-commercial", "edu-knee-medicare", "edu-asthma-medicaid", "edu-group-prediabetes",
               "edu-group-obesity", "edu-hf-advantage", "edu-copd-selfpay", "edu-html-name",
               "edu-stroke-caregiver", "edu-dm-unspecified"]  # fmt: skip
    b.add(group(edu_ids + b.patients))
    return {"resourceType": "Bundle", "type": "transaction", "entry": [put(r) for r in b.resources]}


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "seed" / "month_charges.json"
    out.write_text(json.dumps(bundle(), indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
