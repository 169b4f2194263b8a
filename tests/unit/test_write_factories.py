"""Shared builders for the write-back tests (no tests here): the fixture's signed 98960 session."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from billing_rules.model import ChargeLine, Evaluation, Finding, ServiceRecord
from fhir_mappings.write import WriteContext
from smart_app.writeback.plan import SignedService

EST = timezone(timedelta(hours=-5))
START = datetime(2015, 11, 1, 17, 30, tzinfo=EST)
END = datetime(2015, 11, 1, 18, 0, tzinfo=EST)
SIGNED = datetime(2015, 11, 1, 18, 5, tzinfo=EST)
ISSUER = "https://ehr.test/fhir"
LABELS = {"E11.9": "Type 2 diabetes mellitus without complications"}
CODE_TEXT = {"98960": "Patient self-management education, individual, each 30 minutes"}


def record(**changes: object) -> ServiceRecord:
    base: dict[str, object] = {
        "code": "98960",
        "service_date": date(2015, 11, 1),
        "minutes": 30,
        "curriculum": "DSMES standard curriculum",
        "topics": ("glucose self-monitoring", "hypoglycemia recognition", "foot care"),
        "adaptations": "large-print handouts",
        "response": "teach-back correct; demonstrated meter use",
        "diagnoses": ("E11.9",),
        "provider_role": "RN",
    }
    base.update(changes)
    return ServiceRecord(**base)  # type: ignore[arg-type]


def line(**changes: object) -> ChargeLine:
    base: dict[str, object] = {"code": "98960", "units": 1, "place_of_service": "11", "diagnoses": ("E11.9",)}
    base.update(changes)
    return ChargeLine(**base)  # type: ignore[arg-type]


def evaluation(*lines: ChargeLine, blocked: bool = False) -> Evaluation:
    findings = ()
    if blocked:
        findings = (
            Finding("payer.not-covered", "block", "not covered", "bill another code", "payer", "test"),
        )
    return Evaluation(not blocked, lines or (line(),), findings, None, "2026.1")


def context(**changes: object) -> WriteContext:
    base: dict[str, object] = {
        "patient_id": "example",
        "encounter_id": "example-1",
        "author_ref": "Practitioner/practitioner-1",
        "organization_ref": None,
        "recorded": SIGNED,
        "start": START,
        "end": END,
        "service_date": date(2015, 11, 1),
    }
    base.update(changes)
    return WriteContext(**base)  # type: ignore[arg-type]


def signed(**changes: object) -> SignedService:
    base: dict[str, object] = {
        "issuer": ISSUER,
        "patient_id": "example",
        "encounter_id": "example-1",
        "fhir_user": "Practitioner/practitioner-1",
        "organization": None,
        "record": record(),
        "evaluation": evaluation(),
        "note_text": "Patient education note\nTopics: foot care\n",
        "draft_id": "draft-1",
        "start": START,
        "end": END,
        "signed_at": SIGNED,
        "diagnosis_labels": dict(LABELS),
        "code_text": dict(CODE_TEXT),
    }
    base.update(changes)
    return SignedService(**base)  # type: ignore[arg-type]
