"""A signed visit written to the real sandbox EHR on loopback: ``sandbox-test --service visit.json --write``
(transaction) three times, the last with an empty local store, and the sequential strategy resuming after a
dropped answer: one note, one ChargeItem per line, one Provenance, never a line twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from billing_rules import evaluate_visit, parse_visit_record
from fhir_mappings import extensions as ext
from sandbox_ehr.app import SandboxState, create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import ehr_base_url
from smart_app.cli import main
from smart_app.commands.sandbox_test import signed_request
from smart_app.fhir_client import FhirClient
from smart_app.reads import forget_capabilities, read_launch_context
from smart_app.store import Base, Database
from smart_app.writeback import WritebackConfig, retry_outbox_entry, write_signed_service

pytestmark = pytest.mark.e2e

PATIENT, ENCOUNTER = "edu-knee-medicare", "enc-knee-medicare-0216"
VISIT = {
    "provider_role": "PT",
    "diagnoses": ["M17.11"],
    "plan_of_care_certified": True,
    "therapy_ytd_allowed": 400,
    "response": "Tolerated well",
    "services": [
        {"code": "97110", "minutes": 33, "interventions": "Step-ups 3x10"},
        {"code": "97112", "minutes": 24, "provider_role": "PTA"},
        {"code": "97140", "minutes": 15},
    ],
}


@pytest.fixture(scope="module")
def open_ehr() -> Iterator[tuple[str, SandboxState]]:
    server = ServerThread("127.0.0.1", 0)
    config = SandboxConfig(base_url=ehr_base_url(server.port), open_fhir=True)
    server.serve(create_sandbox_app(config))
    yield config.fhir_base, server.app.extensions["sandbox"]
    server.stop()


def ours(client: FhirClient, resource_type: str, value: str) -> list[dict[str, Any]]:
    return client.search(resource_type, {"identifier": f"{ext.IDENTIFIER_SYSTEM}|{value}"})


def check_on_server(client: FhirClient, result: dict[str, Any]) -> None:
    refs = {r["key"]: r["ref"] for r in result["resources"]}
    assert sorted(refs) == ["charge-0", "charge-1", "charge-2", "note", "provenance"]
    charges = [client.read(*refs[f"charge-{n}"].split("/")) for n in range(3)]
    lines = {c["code"]["coding"][0]["code"]: c["quantity"]["value"] for c in charges}
    assert lines == {"97110": 2, "97112": 2, "97140": 1}
    for charge in charges:
        assert charge["supportingInformation"] == [{"reference": refs["note"]}]
        assert len(ours(client, "ChargeItem", charge["identifier"][0]["value"])) == 1
    note = client.read(*refs["note"].split("/"))
    assert len(ours(client, "DocumentReference", note["identifier"][0]["value"])) == 1
    assert note["content"][0]["attachment"]["title"] == "Physical therapy daily note"
    provenance = client.read(*refs["provenance"].split("/"))
    assert [t["reference"] for t in provenance["target"]] == [
        refs[k] for k in ("note", "charge-0", "charge-1", "charge-2")
    ]


def test_sandbox_test_writes_a_visit_once_even_rerun_with_an_empty_store(
    open_ehr, tmp_path, monkeypatch, capsys
):
    base, _state = open_ehr
    forget_capabilities()
    store = tmp_path / "cli.db"
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", f"sqlite:///{store}")
    monkeypatch.delenv("SMART_EDU_BEARER_TOKEN", raising=False)
    service = tmp_path / "visit.json"
    service.write_text(json.dumps(VISIT), encoding="utf-8")
    argv = ["sandbox-test", "--fhir-base", base, "--patient", PATIENT, "--encounter", ENCOUNTER]
    argv += ["--service", str(service), "--write"]
    outputs = []
    for run in range(3):
        if run == 2:
            store.unlink()
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, err
        outputs.append(json.loads(out))
    assert [o["result"]["status"] for o in outputs] == ["written", "already-written", "already-written"]
    assert outputs[0]["result"]["strategy"] == "transaction"
    assert [s["code"] for s in outputs[0]["evaluation"]["services"]] == ["97110", "97112", "97140"]
    assert (
        len({json.dumps(o["result"]["resources"], sort_keys=True).replace("true", "false") for o in outputs})
        == 1
    )
    check_on_server(FhirClient(base), outputs[0]["result"])


def test_preview_of_a_visit_shows_every_request_and_sends_nothing(open_ehr, tmp_path, monkeypatch, capsys):
    base, _state = open_ehr
    forget_capabilities()
    monkeypatch.delenv("SMART_EDU_BEARER_TOKEN", raising=False)
    service = tmp_path / "visit.json"
    service.write_text(json.dumps({**VISIT, "service_date": "2026-02-16"}), encoding="utf-8")
    code = main(["sandbox-test", "--fhir-base", base, "--patient", PATIENT, "--service", str(service)])
    out, err = capsys.readouterr()
    assert code == 0, err
    shown = json.loads(out)
    assert shown["evaluation"]["billable"] is True and "result" not in shown
    [bundle] = shown["requests"]
    kinds = [e["request"]["url"] for e in bundle["body"]["entry"]]
    assert kinds == ["DocumentReference", "ChargeItem", "ChargeItem", "ChargeItem", "Provenance"]


def test_sequential_visit_resumes_after_a_dropped_answer_on_the_second_line(open_ehr, tmp_path) -> None:
    base, state = open_ehr
    forget_capabilities()
    client = FhirClient(base)
    reads = read_launch_context(client, patient_id=PATIENT, encounter_id=ENCOUNTER, fhir_user=None)
    visit = parse_visit_record({**VISIT, "service_date": "2026-02-16", "response": "sequential run"})
    evaluation = evaluate_visit(visit, reads.context)
    request = signed_request(base, PATIENT, ENCOUNTER, visit, evaluation, reads.context)
    db = Database(f"sqlite:///{tmp_path / 'seq.db'}")
    Base.metadata.create_all(db.engine)
    try:
        config = WritebackConfig(transaction=False)
        state.faults.add(method="POST", path="/fhir/ChargeItem", drop_after_commit=True, times=1)
        first = write_signed_service(db, client, config, request)
        assert first.status == "queued-in-outbox"
        retried = retry_outbox_entry(db, FhirClient(base), str(first.outbox_id))
        assert retried.status == "written"
        check_on_server(client, retried.to_dict())
    finally:
        db.dispose()
