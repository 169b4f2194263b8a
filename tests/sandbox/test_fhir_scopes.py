"""Scopes on the FHIR API: 401 without a valid token, 403 with an OperationOutcome naming the missing scope,
patient scopes limited to the launch patient's compartment, v1 and v2 spellings."""

from __future__ import annotations

from tests.sandbox.conftest import Ehr

CHARGE = {
    "resourceType": "ChargeItem", "status": "billable", "code": {"text": "education session"},
    "subject": {"reference": "Patient/edu-dm-commercial"},
}  # fmt: skip


def test_no_token_or_an_unknown_token_is_401_with_an_operation_outcome(fresh_ehr: Ehr) -> None:
    for token in (None, "not-a-token"):
        resp = fresh_ehr.fhir_get("Patient/edu-dm-commercial", token)
        assert resp.status_code == 401
        assert resp.json()["resourceType"] == "OperationOutcome"
        assert resp.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_metadata_and_discovery_need_no_token(fresh_ehr: Ehr) -> None:
    statement = fresh_ehr.fhir_get("metadata").json()
    oauth = statement["rest"][0]["security"]["extension"][0]
    assert {e["url"]: e["valueUri"] for e in oauth["extension"]}[
        "token"
    ] == f"{fresh_ehr.config.auth_base}/token"


def test_missing_scope_is_403_naming_the_scope(fresh_ehr: Ehr) -> None:
    token = fresh_ehr.access_token(scope="launch patient/Patient.r patient/Condition.rs")["access_token"]
    assert fresh_ehr.fhir_get("Patient/edu-dm-commercial", token).status_code == 200
    denied = fresh_ehr.fhir_send("POST", "ChargeItem", CHARGE, token)
    assert denied.status_code == 403
    assert "patient/ChargeItem.c" in denied.json()["issue"][0]["diagnostics"]
    search = fresh_ehr.fhir_get("Encounter?patient=edu-dm-commercial", token)
    assert search.status_code == 403 and "patient/Encounter.s" in search.text
    assert fresh_ehr.state.store.count("ChargeItem") == 0


def test_v1_read_scope_reads_but_does_not_write(fresh_ehr: Ehr) -> None:
    token = fresh_ehr.access_token(scope="launch patient/*.read")["access_token"]
    assert fresh_ehr.fhir_get("Condition?patient=edu-dm-commercial", token).status_code == 200
    assert fresh_ehr.fhir_send("POST", "ChargeItem", CHARGE, token).status_code == 403
    write = fresh_ehr.access_token(scope="launch patient/ChargeItem.write")["access_token"]
    assert fresh_ehr.fhir_send("POST", "ChargeItem", CHARGE, write).status_code == 201
    assert fresh_ehr.fhir_get("ChargeItem?patient=edu-dm-commercial", write).status_code == 403


def test_patient_scope_stays_inside_the_launch_patients_compartment(fresh_ehr: Ehr) -> None:
    token = fresh_ehr.access_token()["access_token"]
    assert fresh_ehr.fhir_get("Patient/edu-knee-medicare", token).status_code == 404
    assert fresh_ehr.fhir_get("Condition/dx-knee-medicare-m1711", token).status_code == 404
    other = fresh_ehr.fhir_get("Condition?patient=edu-knee-medicare", token).json()
    assert other["total"] == 0
    mine = fresh_ehr.fhir_get("Condition", token).json()
    assert mine["total"] == 2
    assert {e["resource"]["subject"]["reference"] for e in mine["entry"]} == {"Patient/edu-dm-commercial"}
    elsewhere = dict(CHARGE, subject={"reference": "Patient/edu-knee-medicare"})
    assert fresh_ehr.fhir_send("POST", "ChargeItem", elsewhere, token).status_code == 403


def test_batch_entries_are_checked_one_by_one(fresh_ehr: Ehr) -> None:
    token = fresh_ehr.access_token(scope="launch patient/Patient.r")["access_token"]
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Patient/edu-dm-commercial"}},
        {"request": {"method": "GET", "url": "Coverage?patient=edu-dm-commercial"}},
    ]}  # fmt: skip
    entries = fresh_ehr.fhir_send("POST", "", bundle, token).json()["entry"]
    assert [e["response"]["status"][:3] for e in entries] == ["200", "403"]
    assert "patient/Coverage.s" in entries[1]["response"]["outcome"]["issue"][0]["diagnostics"]


def test_expired_access_token_is_401_and_refresh_gives_a_working_one(fresh_ehr: Ehr) -> None:
    fresh_ehr.state.faults.add(access_token_lifetime=0)
    token = fresh_ehr.access_token()
    assert fresh_ehr.fhir_get("Patient/edu-dm-commercial", token["access_token"]).status_code == 401
    fresh_ehr.state.faults.clear()
    refreshed = fresh_ehr.token({"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                                 "client_id": "public-app"}).json()  # fmt: skip
    assert fresh_ehr.fhir_get("Patient/edu-dm-commercial", refreshed["access_token"]).status_code == 200
