"""A Bulk Data export on disk for the scrub tests and benchmark, built from the repository's seeded clinic.

The clinic (``tests/data/scrub/edu_cases.json``) gives patients, coverages, conditions, orders, encounters and
clinicians; the charges and notes are written with the app's own writers, as the app writes them back.
``copies`` repeats the clinic under new patient ids (for scale); every copy is the same month.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from billing_rules.model import ChargeLine, ServiceRecord
from fhir_mappings.note import generate_note
from fhir_mappings.write import WriteContext, build_charge_item, build_document_reference

CLINIC = Path(__file__).parent / "data" / "scrub" / "edu_cases.json"
COMPARTMENT = (
    "Patient",
    "Encounter",
    "Condition",
    "Coverage",
    "ServiceRequest",
    "ChargeItem",
    "DocumentReference",
)
_REF = re.compile(r'"(' + "|".join(COMPARTMENT) + r')/([^"/]+)"')


@dataclass(frozen=True)
class Case:
    """One charge as billed, and the note's facts (minutes None = no note written)."""

    id: str
    patient: str
    encounter: str
    day: str
    code: str
    units: int
    performer: str
    diagnoses: tuple[str, ...]
    modifiers: tuple[str, ...] = ()
    minutes: int | None = None
    curriculum: str | None = "ADA DSMES curriculum"
    topics: tuple[str, ...] = ("glucose monitoring", "foot care")
    status: str = "billable"
    pos: str = "11"
    local_code_only: bool = False
    note_id: str | None = None  # link to another charge's note
    patient_present: bool = True
    caregiver_present: bool | None = None


CASES = (
    Case("ci-dm-98960", "edu-dm-commercial", "enc-dm-commercial-0302", "2026-03-02", "98960", 1,
         "rn-okafor", ("E11.9",), minutes=35),
    Case("ci-dm-98960-dup", "edu-dm-commercial", "enc-dm-commercial-0302", "2026-03-02", "98960", 1,
         "rn-okafor", ("E11.9",), note_id="ci-dm-98960"),
    Case("ci-knee-97110", "edu-knee-medicare", "enc-knee-medicare-0216", "2026-02-16", "97110", 2,
         "pt-rivera", ("M17.11",), ("GP",), minutes=23, curriculum=None, topics=()),
    Case("ci-knee-97112", "edu-knee-medicare", "enc-knee-medicare-0216", "2026-02-16", "97112", 1,
         "pt-rivera", ("M17.11",), ("GP",), minutes=15, curriculum=None, topics=()),
    Case("ci-knee-98960", "edu-knee-medicare", "enc-knee-medicare-0216", "2026-02-16", "98960", 1,
         "rn-okafor", ("M17.11",), minutes=31),
    Case("ci-knee-pta-97110", "edu-knee-medicare", "enc-knee-medicare-0223", "2026-02-23", "97110", 2,
         "pta-cho", ("M17.11",), ("GP",), minutes=30, curriculum=None, topics=()),
    Case("ci-hf-98960", "edu-hf-advantage", "enc-hf-advantage-0312", "2026-03-12", "98960", 1,
         "rn-okafor", ("I50.22",), minutes=30, pos="10"),
    Case("ci-copd-98960", "edu-copd-selfpay", "enc-copd-selfpay-0318", "2026-03-18", "98960", 2,
         "rn-okafor", ("J44.9",), minutes=35),
    Case("ci-asthma-98960", "edu-asthma-medicaid", "enc-asthma-medicaid-0305", "2026-03-05", "98960", 1,
         "chw-baker", ("J45.40",), pos="12"),
    Case("ci-html-98960", "edu-html-name", "enc-html-name-0320", "2026-03-20", "98960", 1,
         "rn-okafor", ("I10",), minutes=32, curriculum="<b>Heart</b> & \"salt\" =HYPERLINK(1)"),
    Case("ci-stroke-97550", "edu-stroke-caregiver", "enc-stroke-caregiver-0225", "2026-02-25", "97550", 1,
         "ot-nguyen", ("I69.351",), ("GO",), minutes=60, curriculum=None, topics=(), patient_present=False,
         caregiver_present=True),
    Case("ci-stroke-97551", "edu-stroke-caregiver", "enc-stroke-caregiver-0225", "2026-02-25", "97551", 2,
         "ot-nguyen", ("I69.351",), ("GO",), note_id="ci-stroke-97550"),
    Case("ci-dm-unspec-98960", "edu-dm-unspecified", "enc-dm-unspecified-0326", "2026-03-26", "98960", 1,
         "md-hughes", ("E11",), minutes=31),
    Case("ci-group-local", "edu-group-prediabetes", "enc-group-prediabetes-0310", "2026-03-10", "98961", 1,
         "rd-patel", ("R73.03",), local_code_only=True),
    Case("ci-obesity-void", "edu-group-obesity", "enc-group-obesity-0310", "2026-03-10", "98961", 1,
         "rd-patel", ("E66.811",), minutes=60, status="entered-in-error"),
)  # fmt: skip


def _clinic() -> list[dict[str, Any]]:
    bundle = json.loads(CLINIC.read_text(encoding="utf-8"))
    return [entry["resource"] for entry in bundle["entry"]]


def _written(case: Case) -> list[dict[str, Any]]:
    day = date.fromisoformat(case.day)
    ctx = WriteContext(
        patient_id=case.patient,
        encounter_id=case.encounter,
        author_ref=f"Practitioner/{case.performer}",
        organization_ref="Organization/org-riverside-clinic",
        recorded=datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC),
        service_date=day,
    )
    out = []
    note_ref = f"DocumentReference/doc-{case.note_id or case.id}"
    if case.minutes is not None:
        record = ServiceRecord(
            code=case.code,
            service_date=day,
            minutes=case.minutes,
            curriculum=case.curriculum,
            topics=case.topics,
            diagnoses=case.diagnoses,
            patient_present=case.patient_present,
            caregiver_present=case.caregiver_present,
        )
        doc = build_document_reference(
            ctx, identifier_value=f"doc-{case.id}", note_text=generate_note(record)
        )
        out.append({**doc, "id": f"doc-{case.id}"})
    elif case.note_id is None:
        note_ref = ""
    line = ChargeLine(case.code, case.units, case.modifiers, case.pos, case.diagnoses)
    charge = build_charge_item(ctx, line, identifier_value=case.id, note_ref=note_ref or None)
    charge = {**charge, "id": case.id, "status": case.status}
    if case.local_code_only:
        charge["code"] = {"coding": [{"system": "urn:example:riverside:billcode", "code": "EDU-GRP-1"}]}
    out.append(charge)
    return out


def month_resources() -> list[dict[str, Any]]:
    """The clinic plus the month's charges and notes (one copy)."""
    resources = _clinic()
    for case in CASES:
        resources.extend(_written(case))
    return resources


def _copy(resource: dict[str, Any], k: int) -> dict[str, Any]:
    if k == 0:
        return resource
    text = _REF.sub(lambda m: f'"{m[1]}/{m[2]}~{k}"', json.dumps(resource))
    out: dict[str, Any] = json.loads(text)
    if out["resourceType"] in COMPARTMENT:
        out["id"] = f"{out['id']}~{k}"
    return out


def write_export(directory: Path, *, copies: int = 1, resources: list[dict[str, Any]] | None = None) -> int:
    """Write ``<Type>.ndjson`` files; returns the number of ChargeItems written."""
    directory.mkdir(parents=True, exist_ok=True)
    base = resources if resources is not None else month_resources()
    handles: dict[str, Any] = {}
    charges = 0
    try:
        for k in range(copies):
            for resource in base:
                rtype = resource["resourceType"]
                if k and rtype not in COMPARTMENT:
                    continue
                if rtype not in handles:
                    handles[rtype] = (directory / f"{rtype}.ndjson").open("w", encoding="utf-8")
                handles[rtype].write(json.dumps(_copy(resource, k), separators=(",", ":")) + "\n")
                charges += rtype == "ChargeItem"
    finally:
        for handle in handles.values():
            handle.close()
    return charges


THERAPY_CODES = (("97110", 2, 30), ("97112", 1, 15), ("97140", 1, 12))  # 57 minutes: 4 units


def therapy_visits(patient: str = "edu-knee-medicare", visits: int = 8) -> list[dict[str, Any]]:
    """A therapy patient's month: twice-weekly visits with three timed codes each, notes by the app."""
    out: list[dict[str, Any]] = []
    for n in range(visits):
        day = date(2026, 3, 2 + 3 * n)
        encounter = f"enc-{patient}-t{n}"
        performer = "pt-rivera" if n % 2 == 0 else "pta-cho"
        out.append(
            {
                "resourceType": "Encounter",
                "id": encounter,
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "subject": {"reference": f"Patient/{patient}"},
                "period": {
                    "start": f"{day.isoformat()}T10:00:00-08:00",
                    "end": f"{day.isoformat()}T10:55:00-08:00",
                },
                "participant": [{"individual": {"reference": f"Practitioner/{performer}"}}],
            }
        )
        for code, units, minutes in THERAPY_CODES:
            modifiers = ("GP",) if performer == "pt-rivera" else ("GP", "CQ")
            case = Case(
                f"ci-{patient}-t{n}-{code}", patient, encounter, day.isoformat(), code, units, performer,
                ("M17.11",), modifiers, minutes=minutes, curriculum=None, topics=(),
            )  # fmt: skip
            out.extend(_written(case))
    return out


def busy_month() -> list[dict[str, Any]]:
    """The clinic's month with a therapy caseload on top (the benchmark's shape: ~3 charges a visit)."""
    return month_resources() + therapy_visits()
