"""The sandbox's Oracle Health ChargeItem mode (``oracle_chargeitem``): ``$create`` only, Oracle's rules."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox_ehr.config import SandboxConfig
from tests.sandbox.conftest import Ehr, _start

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"
PATIENT, ENCOUNTER = "edu-dm-commercial", "enc-dm-commercial-0302"


@pytest.fixture(scope="module")
def oracle_ehr() -> Iterator[Ehr]:
    server = _start(SandboxConfig(base_url="http://placeholder", open_fhir=True, oracle_chargeitem=True))
    yield Ehr(server, server.app.extensions["sandbox"].config)
    server.stop()


@pytest.fixture
def oracle(oracle_ehr: Ehr) -> Ehr:
    oracle_ehr.state.reset()
    return oracle_ehr


def parameters() -> dict[str, Any]:
    """Oracle's documented request (the fixture), pointed at a seeded patient and encounter."""
    body = json.loads((FIXTURES / "parameters.chargeitem-create-request.oracle-health.json").read_text())
    item = body["parameter"][0]["resource"]
    item["subject"] = {"reference": f"Patient/{PATIENT}"}
    item["context"] = {"reference": f"Encounter/{ENCOUNTER}"}
    return dict(body)


def item_of(body: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = body["parameter"][0]["resource"]
    return resource


def billable(ehr: Ehr) -> list[dict[str, Any]]:
    found = ehr.fhir_get(f"ChargeItem?context=Encounter/{ENCOUNTER}&-status=billable")
    assert found.status_code == 200, found.text
    return [e["resource"] for e in found.json().get("entry", [])]


def test_create_answers_200_with_a_location_and_no_body_and_the_search_finds_a_billable_charge(
    oracle: Ehr,
) -> None:
    answer = oracle.fhir_send("POST", "ChargeItem/$create", parameters())
    assert answer.status_code == 200 and answer.content == b""
    location = answer.headers["Location"]
    assert location.startswith(f"{oracle.fhir}/ChargeItem/")
    [charge] = billable(oracle)
    assert location.endswith(f"/ChargeItem/{charge['id']}")
    assert charge["status"] == "billable"
    assert charge["code"] == item_of(parameters())["code"] and "identifier" not in charge
    read = oracle.fhir_get(f"ChargeItem/{charge['id']}").json()
    assert read["occurrenceDateTime"] == "2021-08-02T21:53:34Z"


def test_the_same_transaction_id_twice_makes_two_charges(oracle: Ehr) -> None:
    body = parameters()
    assert oracle.fhir_send("POST", "ChargeItem/$create", body).status_code == 200
    assert oracle.fhir_send("POST", "ChargeItem/$create", body).status_code == 200
    assert len(billable(oracle)) == 2  # no server-side idempotency: the app's ledger must prevent it


def test_plain_create_and_update_are_refused_with_405_and_nothing_is_stored(oracle: Ehr) -> None:
    charge = {**item_of(parameters()), "status": "billable"}
    refused = oracle.fhir_send("POST", "ChargeItem", charge)
    assert refused.status_code == 405
    assert refused.json()["issue"][0]["code"] == "not-supported"
    assert "ChargeItem/$create" in refused.json()["issue"][0]["diagnostics"]
    assert oracle.fhir_send("PUT", "ChargeItem/x1", {**charge, "id": "x1"}).status_code == 405
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": charge, "request": {"method": "POST", "url": "ChargeItem"}}],
    }
    batch = oracle.fhir_send("POST", "", bundle).json()
    assert batch["entry"][0]["response"]["status"].startswith("405")
    assert oracle.state.store.count("ChargeItem") == 0


def _without(name: str) -> dict[str, Any]:
    body = parameters()
    body["parameter"] = [p for p in body["parameter"] if p["name"] != name]
    return body


def _item_change(**changes: Any) -> dict[str, Any]:
    body = parameters()
    item = item_of(body)
    for key, value in changes.items():
        if value is None:
            item.pop(key)
        else:
            item[key] = value
    return body


def _two_codings() -> dict[str, Any]:
    body = parameters()
    coding = item_of(body)["code"]["coding"]
    coding.append({"system": "http://www.ama-assn.org/go/cpt", "code": "98960"})
    return body


def _cpt_coding() -> dict[str, Any]:
    return _item_change(code={"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "98960"}]})


@pytest.mark.parametrize(
    ("body", "status", "expression"),
    [
        (_without("transactionId"), 400, "transactionId"),
        (_without("chargeItem"), 400, "chargeItem"),
        (_item_change(status="billable"), 422, "ChargeItem.status"),
        (_item_change(quantity=None), 422, "ChargeItem.quantity"),
        (_item_change(occurrenceDateTime=None), 422, "ChargeItem.occurrenceDateTime"),
        (_item_change(context={"reference": "Patient/edu-dm-commercial"}), 422, "ChargeItem.context"),
        (_two_codings(), 422, "ChargeItem.code.coding"),
        (_cpt_coding(), 422, "ChargeItem.code.coding"),
    ],
    ids=["no-transaction-id", "no-item", "status", "quantity", "date", "context", "two-codings", "cpt"],
)
def test_invalid_parameters_are_refused_with_an_operation_outcome_naming_the_element(
    oracle: Ehr, body: dict[str, Any], status: int, expression: str
) -> None:
    refused = oracle.fhir_send("POST", "ChargeItem/$create", copy.deepcopy(body))
    assert refused.status_code == status, refused.text
    issue = refused.json()["issue"][0]
    assert refused.json()["resourceType"] == "OperationOutcome" and issue["expression"] == [expression]
    assert oracle.state.store.count("ChargeItem") == 0


def test_search_follows_oracle_rules(oracle: Ehr) -> None:
    assert oracle.fhir_get(f"ChargeItem?context=Encounter/{ENCOUNTER}").status_code == 400  # -status needed
    assert oracle.fhir_get(f"ChargeItem?patient={PATIENT}").status_code == 400
    assert oracle.fhir_send("POST", "ChargeItem/$create", parameters()).status_code == 200
    assert billable(oracle)
    other = oracle.fhir_get(f"ChargeItem?context=Encounter/{ENCOUNTER}&-status=credited").json()
    assert other["total"] == 0


def test_capability_statement_lists_chargeitem_as_oracle_does(oracle: Ehr) -> None:
    statement = oracle.fhir_get("metadata").json()
    [charge] = [r for r in statement["rest"][0]["resource"] if r["type"] == "ChargeItem"]
    expected = json.loads((FIXTURES / "capabilitystatement.oracle-health-sandbox.trimmed.json").read_text())
    [oracle_charge] = [r for r in expected["rest"][0]["resource"] if r["type"] == "ChargeItem"]
    assert charge["interaction"] == oracle_charge["interaction"]
    assert charge["interaction"] == [{"code": "read"}, {"code": "search-type"}]
    assert {o["name"] for o in charge["operation"]} == {o["name"] for o in oracle_charge["operation"]}
    assert {p["name"] for p in charge["searchParam"]} == {p["name"] for p in oracle_charge["searchParam"]}
    document = next(r for r in statement["rest"][0]["resource"] if r["type"] == "DocumentReference")
    assert {"code": "create"} in document["interaction"]  # only ChargeItem changes


def test_the_default_sandbox_keeps_plain_chargeitem_create(store: Ehr) -> None:
    charge = {**item_of(parameters()), "status": "billable"}
    assert store.fhir_send("POST", "ChargeItem", charge).status_code == 201
    assert store.fhir_send("POST", "ChargeItem/$create", parameters()).status_code == 405
