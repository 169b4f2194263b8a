"""What the app writes against the published US Core 6.1.0 profiles (tests/us_core_check.py, fhirpathpy):
the visit's DocumentReference and its Provenance, with and without a launch Organization and an author."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from smart_app.writeback import build_plan
from smart_app.writeback.config import WritebackConfig
from tests.http.test_writeback_visit import signed_visit
from tests.unit.test_write_factories import signed
from tests.us_core_check import check

CASES = {
    "visit, organization and author": {"organization": "Organization/org-1"},
    "visit, no organization": {"organization": None, "organization_name": "Riverside Clinic"},
    "visit, no organization, no name": {"organization": None},
    "visit, no author (sandbox-test)": {"fhir_user": None, "organization": None},
}


def written(**changes: Any) -> dict[str, dict[str, Any]]:
    plan = build_plan(
        signed_visit(**changes), WritebackConfig(transaction=True, conditional_create=True), "transaction"
    )
    return {e.key: e.resource for e in plan.entries}


@pytest.mark.parametrize("changes", CASES.values(), ids=CASES.keys())
def test_the_visit_note_and_provenance_conform_to_us_core(changes: dict[str, Any]) -> None:
    resources = written(**changes)
    note = check(resources["note"], "us-core-documentreference")
    assert note.errors == []
    assert note.unchecked == [
        "DocumentReference.type (http://hl7.org/fhir/us/core/ValueSet/us-core-documentreference-type)"
    ]
    provenance = check(resources["provenance"], "us-core-provenance")
    assert provenance.errors == [] and provenance.unchecked == []


def test_a_single_education_service_conforms_too() -> None:
    plan = build_plan(
        signed(organization=None), WritebackConfig(transaction=True, conditional_create=True), "transaction"
    )
    for entry in plan.entries:
        profile = {"DocumentReference": "us-core-documentreference", "Provenance": "us-core-provenance"}
        if entry.resource_type in profile:
            assert check(entry.resource, profile[entry.resource_type]).errors == []


def test_every_agent_acts_on_behalf_of_an_organization() -> None:
    prov = written(organization=None, organization_name="Riverside Clinic")["provenance"]
    assert [a["onBehalfOf"]["reference"] for a in prov["agent"]] == ["#org", "#org"]
    org = next(c for c in prov["contained"] if c["resourceType"] == "Organization")
    assert org == {"resourceType": "Organization", "id": "org", "active": True, "name": "Riverside Clinic"}
    with_org = written(organization="Organization/org-1")["provenance"]
    assert {a["onBehalfOf"]["reference"] for a in with_org["agent"]} == {"Organization/org-1"}
    assert [c["resourceType"] for c in with_org["contained"]] == ["Device"]


def test_the_check_catches_the_provenance_the_first_release_wrote() -> None:
    """provenance-1 fails for the app's Device agent and the clinician's agent without onBehalfOf."""
    prov = copy.deepcopy(written(organization=None)["provenance"])
    for agent in prov["agent"]:
        agent.pop("onBehalfOf")
    prov["contained"] = [c for c in prov["contained"] if c["resourceType"] != "Organization"]
    errors = check(prov, "us-core-provenance").errors
    assert len([e for e in errors if "provenance-1" in e]) == 2, errors


def test_the_check_catches_a_note_without_category_or_data_and_a_bad_contained_organization() -> None:
    note = copy.deepcopy(written()["note"])
    note.pop("category")
    note["content"][0]["attachment"].pop("data")
    errors = check(note, "us-core-documentreference").errors
    assert any("category" in e for e in errors) and any("us-core-6" in e for e in errors)
    prov = copy.deepcopy(written(organization=None)["provenance"])
    next(c for c in prov["contained"] if c["resourceType"] == "Organization").pop("name")
    assert any("Organization.name" in e for e in check(prov, "us-core-provenance").errors)
