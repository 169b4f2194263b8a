"""Prefetch first, then ONE batch to fhirServer for the rest, 412 when neither can give the data."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses

from smart_app.cds_hooks.reads import DataUnavailable, gather, resources_of
from smart_app.cds_hooks.services import BY_ID, render
from tests.conftest import load_json

FHIR = "https://ehr.test/fhir"
BATCH = FHIR + "/"  # a batch is POSTed to the base URL
PV = BY_ID["patient-view"]
CONDITION = "condition.encounter-diagnosis.icd10cm.oracle-health.json"
DISCHARGE = BY_ID["encounter-discharge"]


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def full_prefetch() -> dict[str, Any]:
    return {
        "patient": {"resourceType": "Patient", "id": "p1"},
        "encounter": {"resourceType": "Encounter", "id": "e1", "status": "in-progress"},
        "conditions": searchset(
            load_json("fixtures/condition.encounter-diagnosis.icd10cm.oracle-health.json")
        ),
        "coverage": None,
        "orders": searchset(),
        "practitioner": {"resourceType": "Practitioner", "id": "pr1"},
        "practitionerRoles": None,
    }


def request(prefetch: dict[str, Any] | None = None, *, auth: bool = True, **context: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/pr1", "patientId": "p1", "encounterId": "e1", **context},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    if auth:
        body["fhirServer"] = FHIR
        body["fhirAuthorization"] = {
            "access_token": "secret-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "smart-edu-cds",
        }
    return body


def batch_response(*bodies: dict[str, Any] | None, status: str = "200 OK") -> dict[str, Any]:
    entries = [{"response": {"status": status}, **({"resource": b} if b else {})} for b in bodies]
    return {"resourceType": "Bundle", "type": "batch-response", "entry": entries}


@responses.activate
def test_full_prefetch_makes_no_request() -> None:
    data = gather(PV, request(full_prefetch()))
    assert len(responses.calls) == 0 and data.round_trips == 0
    assert data.of("coverage") == [] and data.of("patient")[0]["id"] == "p1"
    assert data.of("conditions")[0]["resourceType"] == "Condition"


@responses.activate
def test_missing_keys_are_read_in_one_batch_with_the_hook_token() -> None:
    prefetch = full_prefetch()
    for key in ("conditions", "orders"):
        del prefetch[key]
    prefetch["coverage"] = {"resourceType": "OperationOutcome", "issue": [{"code": "exception"}]}
    coverage = load_json("fixtures/coverage.us-core-example.json")
    responses.post(
        BATCH,
        json=batch_response(
            searchset({"resourceType": "Condition", "id": "c1"}), searchset(coverage), searchset()
        ),
    )
    data = gather(PV, request(prefetch))
    assert len(responses.calls) == 1 and data.used_batch and data.round_trips == 1
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer secret-token"
    urls = [e["request"]["url"] for e in json.loads(sent.body or b"{}")["entry"]]
    assert urls == ["Condition?patient=p1", "Coverage?patient=p1&status=active", "ServiceRequest?patient=p1"]
    assert data.of("coverage")[0]["resourceType"] == "Coverage" and data.of("conditions")[0]["id"] == "c1"
    assert data.of("orders") == []  # a 200 entry without a resource means nothing found


@responses.activate
def test_no_prefetch_reads_everything_in_one_batch() -> None:
    responses.post(
        BATCH,
        json=batch_response(
            {"resourceType": "Patient", "id": "p1"},
            {"resourceType": "Encounter", "id": "e1"},
            searchset(),
            searchset(),
            searchset(),
            {"resourceType": "Practitioner", "id": "pr1"},
            searchset(),
        ),
    )
    data = gather(PV, request())
    assert len(responses.calls) == 1
    assert set(data.fetched) == set(PV.prefetch)


@responses.activate
def test_next_pages_of_a_fetched_search_are_followed() -> None:
    first = searchset({"resourceType": "Condition", "id": "c1"})
    first["link"] = [{"relation": "next", "url": f"{FHIR}?_getpages=abc&page=2"}]
    responses.post(BATCH, json=batch_response(first))
    responses.get(f"{FHIR}?_getpages=abc&page=2", json=searchset({"resourceType": "Condition", "id": "c2"}))
    prefetch = full_prefetch()
    del prefetch["conditions"]
    data = gather(PV, request(prefetch))
    assert [c["id"] for c in data.of("conditions")] == ["c1", "c2"] and data.round_trips == 2


@responses.activate
def test_server_without_batch_falls_back_to_single_reads() -> None:
    responses.post(BATCH, status=405, json={"resourceType": "OperationOutcome", "issue": []})
    responses.get(f"{FHIR}/Condition?patient=p1", json=searchset({"resourceType": "Condition", "id": "c1"}))
    responses.get(f"{FHIR}/ServiceRequest?patient=p1", json=searchset())
    prefetch = full_prefetch()
    del prefetch["conditions"], prefetch["orders"]
    data = gather(PV, request(prefetch))
    assert not data.used_batch and data.of("conditions")[0]["id"] == "c1" and data.of("orders") == []


def test_412_when_required_data_is_neither_prefetched_nor_readable() -> None:
    prefetch = full_prefetch()
    del prefetch["conditions"]
    with pytest.raises(DataUnavailable) as err:
        gather(PV, request(prefetch, auth=False))
    assert err.value.missing == ["conditions"]


def test_fhir_server_without_authorization_is_not_read() -> None:
    body = request({}, auth=False)
    body["fhirServer"] = FHIR
    with pytest.raises(DataUnavailable):
        gather(PV, body)


@responses.activate
def test_412_when_the_server_fails_the_read() -> None:
    responses.post(BATCH, status=403, json={"resourceType": "OperationOutcome", "issue": []})
    with pytest.raises(DataUnavailable) as err:
        gather(PV, request({}))
    assert "patient" in err.value.missing


@responses.activate
def test_a_failed_entry_of_the_batch_is_a_gap() -> None:
    responses.post(
        BATCH, json=batch_response({"resourceType": "OperationOutcome"}, status="500 Server Error")
    )
    prefetch = full_prefetch()
    del prefetch["orders"]
    with pytest.raises(DataUnavailable) as err:
        gather(PV, request(prefetch))
    assert err.value.missing == ["orders"]


def test_optional_keys_may_be_missing_without_a_server() -> None:
    prefetch = full_prefetch()
    del prefetch["practitioner"], prefetch["practitionerRoles"]
    data = gather(PV, request(prefetch, auth=False))
    assert data.of("practitioner") == []


def test_patient_view_without_encounter_does_not_need_one() -> None:
    prefetch = full_prefetch()
    del prefetch["encounter"]
    body = request(prefetch, auth=False)
    del body["context"]["encounterId"]
    assert gather(PV, body).of("encounter") == []


def test_discharge_needs_charges_and_notes() -> None:
    with pytest.raises(DataUnavailable) as err:
        gather(DISCHARGE, request(full_prefetch(), auth=False))
    assert err.value.missing == ["charges", "notes"]


def test_templates_refuse_context_values_that_are_not_ids() -> None:
    assert render("Patient/{{context.patientId}}", {"patientId": "123"}) == "Patient/123"
    assert render("Condition?patient={{context.patientId}}", {"patientId": "1&_include=*"}) is None
    assert render("Practitioner/{{userPractitionerId}}", {"userId": "PractitionerRole/9"}) is None
    assert render("Practitioner/{{userPractitionerId}}", {"userId": "Practitioner/9"}) == "Practitioner/9"
    assert render("Encounter/{{context.encounterId}}", {"encounterId": {"id": "x"}}) is None


def test_prefetch_values_are_tolerated_in_every_shape() -> None:
    assert resources_of(None) == []
    assert resources_of({"resourceType": "OperationOutcome"}) == []
    assert resources_of({"resourceType": "Bundle"}) == []
    assert resources_of({"resourceType": "Bundle", "entry": [{"fullUrl": "x"}, {"resource": None}]}) == []
    assert resources_of("123") == [] and resources_of({"id": "x"}) == []
    assert resources_of(
        load_json("fixtures/cds-hooks.patient-view-request.json")["prefetch"]["patientToGreet"]
    )


@responses.activate
def test_a_failing_next_page_is_a_gap_not_half_a_list() -> None:
    first = searchset({"resourceType": "Condition", "id": "c1"})
    first["link"] = [{"relation": "next", "url": f"{FHIR}?page=2"}]
    responses.post(BATCH, json=batch_response(first))
    responses.get(f"{FHIR}?page=2", status=500, json={"resourceType": "OperationOutcome", "issue": []})
    prefetch = full_prefetch()
    del prefetch["conditions"]
    with pytest.raises(DataUnavailable) as err:
        gather(PV, request(prefetch))
    assert err.value.missing == ["conditions"]
