"""Real public payloads: Synthea bundles (SNOMED-only conditions) read by fhir_mappings, then evaluated."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from billing_rules import evaluate, parse_service_record, snomed_family
from billing_rules.model import ClinicalContext, Order, Payer, Provider
from fhir_mappings.read import context_from_bundle
from tests.conftest import load_json

SYNTHEA = Path("public/synthea-smart-generated-sample-data")
SERVICE = {
    "code": "98960",
    "service_date": "2021-03-01",
    "minutes": 30,
    "curriculum": "Asthma self-management (NAEPP)",
    "topics": ["inhaler technique"],
}


def synthea(name: str) -> ClinicalContext:
    ctx = context_from_bundle(load_json(str(SYNTHEA / name)))
    order = Order("o1", status="active", authored_on=date(2021, 2, 1), requester_role="MD")
    return dataclasses.replace(ctx, payer=Payer("commercial"), provider=Provider("RN"), orders=(order,))


@pytest.mark.parametrize(
    ("name", "families"),
    [
        ("Fidel_Bins_79dabd54-65a3-41b3-8975-e868bffce1e1.json", {"asthma", "obesity"}),
        ("Birgit_Schmeler_7e8ee10e-569b-4229-9380-62c49244902c.json", {"COPD", "obesity"}),
        ("Louis_Maggio_2e275d4b-855a-4eb2-9021-5410aa8acd4f.json", {"diabetes", "osteoarthritis", "obesity"}),
        ("Buster_Hoeger_ad2e3fc5-2b5d-4cb9-8d03-9ea0f4ac8423.json", set()),
    ],
)
def test_snomed_families_of_synthea_patients(name: str, families: set[str]) -> None:
    ctx = synthea(name)
    found = {f for d in ctx.conditions for code in d.snomed if (f := snomed_family(code))}
    assert found == families


def test_snomed_only_patient_must_pick_icd10() -> None:
    ctx = synthea("Fidel_Bins_79dabd54-65a3-41b3-8975-e868bffce1e1.json")
    ev = evaluate(parse_service_record(SERVICE), ctx)
    rules = {f.rule: f for f in ev.findings}
    assert {"dx.missing", "dx.needs-icd10"} <= set(rules) and not ev.billable
    picked = evaluate(parse_service_record({**SERVICE, "diagnoses": ["J45.909"]}), ctx)
    assert "dx.needs-icd10" not in {f.rule for f in picked.findings}
    assert picked.charge_lines[0].diagnoses == ("J45.909",)


def test_service_after_a_synthea_death_is_blocked() -> None:
    ctx = synthea("Elisha_Schroeder_f82884e3-7586-4e78-89de-5e682822ed41.json")
    assert ctx.patient.deceased_date is not None
    ev = evaluate(parse_service_record({**SERVICE, "diagnoses": ["E66.9"]}), ctx)
    assert "patient.deceased" in {f.rule for f in ev.findings} and not ev.billable
