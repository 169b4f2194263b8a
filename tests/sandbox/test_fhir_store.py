"""The FHIR R4 store over HTTP (open mode): CapabilityStatement, read, search and paging, create/update with
validation, If-None-Exist, batch, atomic transaction, and injected faults."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests

from tests.sandbox.conftest import SECRET, Ehr

DOC: dict[str, Any] = {
    "resourceType": "DocumentReference", "status": "current",
    "identifier": [{"system": "urn:smart-edu:test", "value": "doc-1"}],
    "type": {"coding": [{"system": "http://loinc.org", "code": "34895-3"}]},
    "subject": {"reference": "Patient/edu-dm-commercial"},
    "context": {"encounter": [{"reference": "Encounter/enc-dm-commercial-0302"}]},
    "content": [{"attachment": {"contentType": "text/plain;charset=utf-8", "data": "Rm9vdCBjYXJlLg=="}}],
}  # fmt: skip
CHARGE: dict[str, Any] = {
    "resourceType": "ChargeItem", "status": "billable",
    "identifier": [{"system": "urn:smart-edu:test", "value": "charge-1"}],
    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "98960"}]},
    "subject": {"reference": "Patient/edu-dm-commercial"},
    "context": {"reference": "Encounter/enc-dm-commercial-0302"},
    "supportingInformation": [{"reference": "urn:uuid:6f1c0a52-5a63-4b0e-9a55-2b9c8f0d3e11"}],
}  # fmt: skip
DOC_URN = "urn:uuid:6f1c0a52-5a63-4b0e-9a55-2b9c8f0d3e11"


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def post_entry(
    resource: dict[str, Any], full_url: str | None = None, if_none_exist: str | None = None
) -> dict:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }
    if full_url:
        entry["fullUrl"] = full_url
    if if_none_exist:
        entry["request"]["ifNoneExist"] = if_none_exist
    return entry


def charge_and_note() -> dict[str, Any]:
    return transaction(post_entry(CHARGE, if_none_exist="identifier=urn:smart-edu:test|charge-1"),
                       post_entry(DOC, DOC_URN, "identifier=urn:smart-edu:test|doc-1"))  # fmt: skip


def test_capability_statement_lists_what_search_really_supports(store: Ehr) -> None:
    rest = store.fhir_get("metadata").json()["rest"][0]
    assert {i["code"] for i in rest["interaction"]} == {"batch", "transaction"}
    by_type = {r["type"]: r for r in rest["resource"]}
    wanted = {
        "Patient": {"_id", "name", "identifier"}, "Encounter": {"patient", "_id", "date", "status"},
        "Condition": {"patient", "encounter", "category", "clinical-status"},
        "Coverage": {"patient", "status"},
        "ServiceRequest": {"patient", "status"}, "PractitionerRole": {"practitioner"},
        "ChargeItem": {"patient", "context", "code", "identifier"},
        "DocumentReference": {"patient", "encounter", "identifier", "type"}, "Provenance": {"target"},
    }  # fmt: skip
    for rtype, params in wanted.items():
        assert params <= {p["name"] for p in by_type[rtype]["searchParam"]}, rtype
        assert by_type[rtype]["conditionalCreate"] is True
    assert "Encounter:patient" in by_type["Encounter"]["searchInclude"]
    assert "security" not in rest  # open mode: no token needed, so none advertised
    for rtype in wanted:
        for param in by_type[rtype]["searchParam"]:
            assert store.fhir_get(f"{rtype}?{param['name']}=x").status_code == 200, (rtype, param)
    assert store.fhir_get("Patient?gender=female").status_code == 400


def test_read_has_version_headers_and_404_is_an_operation_outcome(store: Ehr) -> None:
    resp = store.fhir_get("Patient/edu-dm-commercial")
    body = resp.json()
    assert resp.headers["ETag"] == f'W/"{body["meta"]["versionId"]}"' and body["meta"]["lastUpdated"]
    assert resp.headers["Last-Modified"].endswith(" GMT")
    missing = store.fhir_get("Patient/nobody")
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"


def test_paging_with_count_and_next_links_visits_everything_once(store: Ehr) -> None:
    url: str | None = f"{store.fhir}/Patient?_count=5"
    ids: list[str] = []
    while url:
        page = store.http.get(url).json()
        ids += [e["resource"]["id"] for e in page["entry"]]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert len(ids) == len(set(ids)) == page["total"] == store.state.store.count("Patient")


def test_reference_parameters_accept_id_and_type_slash_id(store: Ehr) -> None:
    bare = store.fhir_get("Encounter?patient=edu-knee-medicare").json()
    typed = store.fhir_get("Encounter?patient=Patient/edu-knee-medicare").json()
    assert bare["total"] == typed["total"] == 2
    assert store.fhir_get("PractitionerRole?practitioner=rn-okafor").json()["total"] == 1


def test_token_string_date_and_include_searches(store: Ehr) -> None:
    cats = store.fhir_get("Condition?patient=edu-knee-medicare&category=encounter-diagnosis").json()
    assert cats["total"] == 2
    system = "http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item"
    assert store.fhir_get(f"Condition?patient=edu-knee-medicare&category={system}&clinical-status=active"
                          ).json()["total"] == 1  # fmt: skip
    assert store.fhir_get("Patient?name=delg").json()["entry"][0]["resource"]["id"] == "edu-dm-commercial"
    assert store.fhir_get("Patient?identifier=http://riverside-clinic.example.org/mrn|MRN-edu-html-name"
                          ).json()["total"] == 1  # fmt: skip
    assert store.fhir_get("Encounter?patient=edu-knee-medicare&date=ge2026-02-20").json()["total"] == 1
    assert store.fhir_get("Encounter?patient=edu-knee-medicare&date=2026-02").json()["total"] == 2
    assert store.fhir_get("Encounter?patient=edu-knee-medicare&date=lt2026-01-01").json()["total"] == 0
    inc = store.fhir_get("Encounter?_id=enc-dm-commercial-0302&_include=Encounter:patient").json()
    assert [(e["resource"]["resourceType"], e["search"]["mode"]) for e in inc["entry"]] == [
        ("Encounter", "match"), ("Patient", "include")]  # fmt: skip


def test_create_validates_with_r4b_and_names_the_path(store: Ehr) -> None:
    bad = copy.deepcopy(DOC)
    bad["content"][0]["attachment"]["data"] = 42
    resp = store.fhir_send("POST", "DocumentReference", bad)
    assert resp.status_code == 400
    issue = resp.json()["issue"][0]
    assert issue["expression"] == ["DocumentReference.content[0].attachment.data"]
    unknown = store.fhir_send("POST", "ChargeItem", dict(CHARGE, modifier="GP"))
    assert unknown.status_code == 400 and "ChargeItem.modifier" in unknown.text
    assert store.state.store.count("DocumentReference") == 0


def test_create_returns_location_etag_and_honours_prefer(store: Ehr) -> None:
    full = store.fhir_send("POST", "DocumentReference", DOC, Prefer="return=representation")
    assert full.status_code == 201 and full.json()["meta"]["versionId"] == "1"
    assert full.headers["Location"].endswith(f"/DocumentReference/{full.json()['id']}/_history/1")
    assert full.headers["ETag"] == 'W/"1"'
    minimal = store.fhir_send("POST", "DocumentReference", DOC, Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.content == b"" and minimal.headers["Location"]
    again = store.http.get(full.headers["Location"])
    assert again.status_code == 200 and again.json()["id"] == full.json()["id"]
    old = store.http.get(full.headers["Location"].replace("_history/1", "_history/0"))
    assert old.status_code == 404 and old.json()["resourceType"] == "OperationOutcome"
    nowhere = store.http.delete(full.headers["Location"].split("/_history")[0])
    assert nowhere.status_code == 405 and nowhere.json()["resourceType"] == "OperationOutcome"


def test_if_none_exist_creates_once_then_points_at_the_match_and_412s_on_ambiguity(store: Ehr) -> None:
    query = "identifier=urn:smart-edu:test|doc-1"
    first = store.fhir_send("POST", "DocumentReference", DOC, **{"If-None-Exist": query})
    second = store.fhir_send("POST", "DocumentReference", DOC, **{"If-None-Exist": query})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.headers["Location"] == second.headers["Location"]
    assert store.state.store.count("DocumentReference") == 1
    store.fhir_send("POST", "DocumentReference", DOC)
    third = store.fhir_send("POST", "DocumentReference", DOC, **{"If-None-Exist": query})
    assert third.status_code == 412 and store.state.store.count("DocumentReference") == 2


def test_update_bumps_the_version_and_if_match_guards_lost_updates(store: Ehr) -> None:
    patient = store.fhir_get("Patient/edu-copd-selfpay").json()
    patient["gender"] = "other"
    updated = store.fhir_send("PUT", "Patient/edu-copd-selfpay", patient, **{"If-Match": 'W/"1"'})
    assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
    stale = store.fhir_send("PUT", "Patient/edu-copd-selfpay", patient, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412


def test_batch_entries_succeed_or_fail_independently(store: Ehr) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Patient/edu-dm-commercial"}},
        post_entry(dict(DOC, status=7)),
        post_entry(DOC),
        {"request": {"method": "GET", "url": "Condition?patient=Patient/edu-dm-commercial&_count=1"}},
    ]}  # fmt: skip
    resp = store.fhir_send("POST", "", bundle).json()
    assert resp["type"] == "batch-response"
    assert [e["response"]["status"][:3] for e in resp["entry"]] == ["200", "400", "201", "200"]
    assert resp["entry"][3]["resource"]["total"] == 2
    assert store.state.store.count("DocumentReference") == 1


def test_transaction_rewrites_urn_uuid_references_and_is_idempotent_with_if_none_exist(store: Ehr) -> None:
    resp = store.fhir_send("POST", "", charge_and_note())
    assert resp.status_code == 200, resp.text
    statuses = [e["response"]["status"] for e in resp.json()["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    charge = store.fhir_get("ChargeItem?identifier=urn:smart-edu:test|charge-1").json()["entry"][0][
        "resource"
    ]
    doc = store.fhir_get("DocumentReference?identifier=urn:smart-edu:test|doc-1").json()["entry"][0][
        "resource"
    ]
    assert charge["supportingInformation"][0]["reference"] == f"DocumentReference/{doc['id']}"
    again = store.fhir_send("POST", "", charge_and_note()).json()
    assert [e["response"]["status"] for e in again["entry"]] == ["200 OK", "200 OK"]
    assert store.state.store.count("ChargeItem") == store.state.store.count("DocumentReference") == 1


def test_transaction_is_atomic_one_bad_entry_stores_nothing(store: Ehr) -> None:
    bad_doc = dict(DOC, status="current", date="not-a-date")
    before = store.state.store.count()
    resp = store.fhir_send("POST", "", transaction(post_entry(CHARGE), post_entry(bad_doc, DOC_URN)))
    assert resp.status_code == 400
    assert "entry[1]" in resp.json()["issue"][0]["diagnostics"]
    assert store.state.store.count() == before
    assert store.fhir_get("ChargeItem?patient=edu-dm-commercial").json()["total"] == 0


def test_injected_503_with_retry_after_then_normal_service(store: Ehr) -> None:
    created = store.http.post(
        f"{store.base}/_sandbox/faults",
        json={"path": "/fhir/Patient", "status": 503, "retry_after": 2, "times": 1},
    )
    assert created.status_code == 201
    failed = store.fhir_get("Patient/edu-dm-commercial")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert store.fhir_get("Patient/edu-dm-commercial").status_code == 200
    header = store.fhir_get("Patient/edu-dm-commercial", **{"X-Sandbox-Fault": "status=429; retry-after=1"})
    assert header.status_code == 429 and header.headers["Retry-After"] == "1"


def test_dropped_response_after_commit_leaves_the_write_stored(store: Ehr) -> None:
    with pytest.raises(requests.ConnectionError):
        store.fhir_send("POST", "", charge_and_note(), **{"X-Sandbox-Fault": "drop-after-commit"})
    assert store.state.store.count("ChargeItem") == 1
    retry = store.fhir_send("POST", "", charge_and_note()).json()
    assert [e["response"]["status"][:3] for e in retry["entry"]] == ["200", "200"]
    assert store.state.store.count("ChargeItem") == 1


def test_admin_endpoint_refuses_form_posts(store: Ehr) -> None:
    resp = store.http.post(f"{store.base}/_sandbox/faults", data={"status": "500"})
    assert resp.status_code == 415
    assert store.http.get(f"{store.base}/_sandbox/faults").json() == []


def test_latency_fault_is_used_up_after_its_times(store: Ehr) -> None:
    store.state.faults.add(latency_ms=5, path="/fhir/Coverage", times=1)
    assert store.fhir_get("Coverage?patient=edu-dm-commercial").json()["total"] == 1
    assert store.state.faults.active() == []


def test_faults_per_client_on_the_token_endpoint(fresh_ehr: Ehr) -> None:
    fresh_ehr.state.faults.add(client_id="symmetric-app", path="/auth/token", status=503, retry_after=3)
    code, verifier = fresh_ehr.ehr_code()
    assert fresh_ehr.exchange(code, verifier).status_code == 200  # another client: unaffected
    code, verifier = fresh_ehr.ehr_code("symmetric-app")
    resp = fresh_ehr.exchange(code, verifier, "symmetric-app", auth=("symmetric-app", SECRET))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "3"
