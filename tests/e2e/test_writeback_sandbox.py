"""Write-back through strategies 1 (transaction) and 2 (sequential) to the real sandbox EHR on loopback, read
back; a response dropped after commit; ``smart-edu sandbox-test --write`` twice and with an empty store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings import extensions as ext
from sandbox_ehr.app import SandboxState, create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import ehr_base_url
from smart_app.cli import main
from smart_app.fhir_client import FhirClient
from smart_app.reads import forget_capabilities
from smart_app.store import Base, Database
from smart_app.writeback import SignedService, WritebackConfig, retry_outbox_entry, write_signed_service
from tests.unit.test_write_factories import record, signed

pytestmark = pytest.mark.e2e

PATIENT, ENCOUNTER, AUTHOR = "edu-dm-commercial", "enc-dm-commercial-0302", "Practitioner/rn-okafor"


@pytest.fixture(scope="module")
def open_ehr() -> Iterator[tuple[str, SandboxState]]:
    """The sandbox EHR in open mode (no token needed), as ``sandbox-test`` meets public servers."""
    server = ServerThread("127.0.0.1", 0)
    config = SandboxConfig(base_url=ehr_base_url(server.port), open_fhir=True)
    server.serve(create_sandbox_app(config))
    yield config.fhir_base, server.app.extensions["sandbox"]
    server.stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def request(base: str, draft_id: str) -> SignedService:
    return signed(
        issuer=base,
        patient_id=PATIENT,
        encounter_id=ENCOUNTER,
        fhir_user=AUTHOR,
        organization="Organization/org-riverside-clinic",
        draft_id=draft_id,
        record=record(service_date=None),
        start=None,
        end=None,
    )


def ours(client: FhirClient, resource_type: str, value: str) -> list[dict[str, Any]]:
    return client.search(resource_type, {"identifier": f"{ext.IDENTIFIER_SYSTEM}|{value}"})


@pytest.mark.parametrize("transaction", [True, False], ids=["transaction", "sequential"])
def test_write_and_read_back_then_rerun_with_an_empty_store(
    open_ehr, db, tmp_path, transaction: bool
) -> None:
    base, _state = open_ehr
    config = WritebackConfig(transaction=transaction, conditional_create=True)
    client = FhirClient(base)
    signed_service = request(base, f"draft-{transaction}")
    result = write_signed_service(db, client, config, signed_service)
    assert result.status == "written"
    assert result.strategy == ("transaction" if transaction else "sequential")
    note = client.read(*str(result.ref("note")).split("/"))
    charge = client.read(*str(result.ref("charge-0")).split("/"))
    assert note["subject"] == {"reference": f"Patient/{PATIENT}"}
    assert note["context"]["encounter"] == [{"reference": f"Encounter/{ENCOUNTER}"}]
    assert charge["supportingInformation"] == [{"reference": result.ref("note")}]
    assert charge["context"] == {"reference": f"Encounter/{ENCOUNTER}"}
    assert charge["code"]["coding"][0]["code"] == "98960"
    provenance = client.read(*str(result.ref("provenance")).split("/"))
    assert [t["reference"] for t in provenance["target"]] == [result.ref("note"), result.ref("charge-0")]

    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    Base.metadata.create_all(empty.engine)
    rerun = write_signed_service(empty, FhirClient(base), config, signed_service)
    empty.dispose()
    assert rerun.status == "already-written", rerun.to_dict()
    charge_id = charge["identifier"][0]["value"]
    note_id = note["identifier"][0]["value"]
    assert len(ours(client, "ChargeItem", charge_id)) == 1
    assert len(ours(client, "DocumentReference", note_id)) == 1


def test_a_charge_committed_but_answered_with_a_dropped_connection_is_found_on_retry(open_ehr, db) -> None:
    base, state = open_ehr
    state.faults.add(method="POST", path="/fhir/ChargeItem", drop_after_commit=True, times=1)
    client = FhirClient(base)
    signed_service = request(base, "draft-drop")
    first = write_signed_service(db, client, WritebackConfig(transaction=False), signed_service)
    assert first.status == "queued-in-outbox" and first.http_status is None
    retried = retry_outbox_entry(db, FhirClient(base), str(first.outbox_id))
    assert retried.status == "written"
    charge = client.read(*str(retried.ref("charge-0")).split("/"))
    assert len(ours(client, "ChargeItem", charge["identifier"][0]["value"])) == 1


def test_sandbox_test_cli_writes_once_even_twice_and_with_an_empty_store(
    open_ehr, tmp_path, monkeypatch, capsys
):
    base, _state = open_ehr
    forget_capabilities()
    store = tmp_path / "cli.db"
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", f"sqlite:///{store}")
    monkeypatch.delenv("SMART_EDU_BEARER_TOKEN", raising=False)
    service = tmp_path / "service.json"
    service.write_text(
        json.dumps(
            {
                "code": "98960",
                "minutes": 30,
                "curriculum": "ADCES7",
                "topics": ["healthy eating", "monitoring"],
                "response": "teach-back correct",
                "diagnoses": ["E11.9"],
                "provider_role": "RN",
            }
        ),
        encoding="utf-8",
    )
    argv = ["sandbox-test", "--fhir-base", base, "--patient", PATIENT, "--encounter", ENCOUNTER]
    argv += ["--service", str(service), "--write"]
    outputs = []
    for run in range(3):
        if run == 2:
            store.unlink()
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, err
        outputs.append(json.loads(out)["result"])
    assert [o["status"] for o in outputs] == ["written", "already-written", "already-written"]
    refs = {tuple(sorted((r["key"], r["ref"]) for r in o["resources"])) for o in outputs}
    assert len(refs) == 1
    client = FhirClient(base)
    charge_ref = dict(refs.pop())["charge-0"]
    charge = client.read(*charge_ref.split("/"))
    assert len(ours(client, "ChargeItem", charge["identifier"][0]["value"])) == 1
