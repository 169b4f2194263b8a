"""``smart-edu sandbox-test`` against stubbed servers: preview, write twice, empty store, blocked, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from smart_app.cli import main
from smart_app.reads import forget_capabilities
from tests.conftest import load_json
from tests.http.test_writeback_fake import BASE, FakeFhir, epic_caps, hapi_caps

ORDER = {
    "resourceType": "ServiceRequest",
    "id": "edu-order",
    "status": "active",
    "intent": "order",
    "subject": {"reference": "Patient/example"},
    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "98960"}]},
    "authoredOn": "2026-10-20",
    "requester": {"reference": "Practitioner/practitioner-1"},
}
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
DIAGNOSIS = {
    "resourceType": "Condition",
    "id": "dx-1",
    "subject": {"reference": "Patient/example"},
    "encounter": {"reference": "Encounter/example-1"},
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                    "code": "encounter-diagnosis",
                }
            ]
        }
    ],
    "clinicalStatus": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
    },
    "code": {
        "coding": [
            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9", "display": "Type 2 diabetes"}
        ]
    },
}
SERVICE = {
    "code": "98960",
    "minutes": 30,
    "curriculum": "DSMES",
    "topics": ["glucose self-monitoring"],
    "response": "teach-back correct",
    "diagnoses": ["E11.9"],
    "provider_role": "RN",
    "payer_class": "commercial",
}


def chart() -> list[dict[str, Any]]:
    encounter = load_json("fixtures/encounter.us-core-ambulatory-example-1.json")
    encounter["period"] = {"start": "2026-11-02T10:00:00-05:00", "end": "2026-11-02T10:45:00-05:00"}
    return [load_json("fixtures/patient.us-core-example.json"), encounter, DIAGNOSIS, ORDER]


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    forget_capabilities()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
    forget_capabilities()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("SMART_EDU_BEARER_TOKEN", raising=False)
    return path


def service_file(tmp_path: Path, **changes: Any) -> str:
    path = tmp_path / "service.json"
    path.write_text(json.dumps({**SERVICE, **changes}), encoding="utf-8")
    return str(path)


def sandbox_test(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(
        ["sandbox-test", "--fhir-base", BASE, "--patient", "example", "--encounter", "example-1", *argv]
    )
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def test_without_write_it_prints_the_evaluation_and_the_transaction_and_sends_nothing(
    rsps, store, tmp_path, capsys
) -> None:
    fake = FakeFhir(hapi_caps()).seed(*chart()).install(rsps)
    code, out, _ = sandbox_test(capsys, "--service", service_file(tmp_path))
    assert code == 0 and out["evaluation"]["billable"] is True
    assert out["strategy"] == "transaction"
    [request] = out["requests"]
    assert request["method"] == "POST" and request["body"]["type"] == "transaction"
    types = [e["resource"]["resourceType"] for e in request["body"]["entry"]]
    assert types == ["DocumentReference", "ChargeItem", "Provenance"]
    assert all(e["request"]["ifNoneExist"] for e in request["body"]["entry"])
    assert fake.of_type("ChargeItem") == [] and fake.of_type("DocumentReference") == []


def test_write_twice_and_with_an_empty_store_still_one_charge_and_one_note(
    rsps, store, tmp_path, capsys
) -> None:
    fake = FakeFhir(hapi_caps()).seed(*chart()).install(rsps)
    service = service_file(tmp_path)
    code, first, _ = sandbox_test(capsys, "--service", service, "--write")
    assert code == 0 and first["result"]["status"] == "written"
    code, second, _ = sandbox_test(capsys, "--service", service, "--write")
    assert code == 0 and second["result"]["status"] == "already-written"
    store.unlink()
    code, third, _ = sandbox_test(capsys, "--service", service, "--write")
    assert code == 0 and third["result"]["status"] == "already-written"
    assert len(fake.of_type("ChargeItem")) == 1 and len(fake.of_type("DocumentReference")) == 1
    [charge] = fake.of_type("ChargeItem")
    assert "performer" not in charge  # no fhirUser without a launch: nobody is invented
    refs = {r["key"]: r["ref"] for r in third["result"]["resources"]}
    assert refs["charge-0"] == f"ChargeItem/{charge['id']}"


def test_a_blocked_service_is_never_written(rsps, store, tmp_path, capsys) -> None:
    fake = FakeFhir(hapi_caps()).seed(*chart()).install(rsps)
    code, out, err = sandbox_test(
        capsys, "--service", service_file(tmp_path, payer_class="medicare"), "--write"
    )
    assert code == 1 and out["evaluation"]["billable"] is False
    assert "nothing is written" in err
    assert fake.of_type("ChargeItem") == [] and fake.of_type("DocumentReference") == []


def test_epic_profile_writes_the_note_only(rsps, store, tmp_path, capsys) -> None:
    fake = FakeFhir(epic_caps(), transactions=False, conditional=False, epic_answers=True)
    fake.seed(*chart()).install(rsps)
    code, out, _ = sandbox_test(
        capsys, "--service", service_file(tmp_path), "--profile", "epic-sandbox", "--write"
    )
    assert code == 0 and out["result"]["status"] == "note-only"
    assert fake.of_type("ChargeItem") == [] and len(fake.of_type("DocumentReference")) == 1


def test_a_server_error_exits_3_with_the_servers_message(rsps, store, tmp_path, capsys) -> None:
    fake = FakeFhir(hapi_caps(), missing={"Encounter/example-1"}).seed(*chart()).install(rsps)
    code, out, err = sandbox_test(capsys, "--service", service_file(tmp_path), "--write")
    assert code == 3 and out["result"]["status"] == "queued-in-outbox"
    assert "HAPI-1094" in err
    assert fake.of_type("ChargeItem") == []
    assert main(["outbox", "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["http_status"] for e in listed] == [400]
    fake.missing.clear()
    assert main(["outbox", "retry"]) == 0
    assert "written" in capsys.readouterr().out
    assert len(fake.of_type("ChargeItem")) == 1


def test_bad_input_exits_2(rsps, store, tmp_path, capsys) -> None:
    FakeFhir(hapi_caps()).seed(*chart()).install(rsps)
    code, _, err = sandbox_test(capsys, "--service", str(tmp_path / "missing.json"))
    assert code == 2 and "file not found" in err
    code, _, err = sandbox_test(capsys, "--service", service_file(tmp_path), "--profile", "no-such-profile")
    assert code == 2 and "no such launch profile" in err
