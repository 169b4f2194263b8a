"""Write strategy 3 (Oracle Health's ``ChargeItem/$create``) end to end against the real sandbox EHR in its
Oracle mode (``oracle_chargeitem``), with the Oracle Health profile's own write-back settings: note and
charge written and read back, reruns with and without the local store, a response lost after commit."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox_ehr.app import SandboxState, create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import ehr_base_url
from smart_app.fhir_client import FhirClient
from smart_app.store import Base, Database
from smart_app.writeback import (
    ChargeDecision,
    SignedService,
    WritebackConfig,
    retry_outbox_entry,
    write_signed_service,
)
from tests.unit.test_write_factories import signed

pytestmark = pytest.mark.e2e

PATIENT, ENCOUNTER, AUTHOR = "edu-dm-commercial", "enc-dm-commercial-0302", "Practitioner/rn-okafor"
PROFILE = Path(__file__).resolve().parents[2] / "launch_config" / "oracle-health-sandbox.toml"
ORACLE = WritebackConfig.from_mapping(tomllib.loads(PROFILE.read_text(encoding="utf-8"))["writeback"])


@pytest.fixture(scope="module")
def oracle_ehr() -> Iterator[tuple[str, SandboxState]]:
    server = ServerThread("127.0.0.1", 0)
    config = SandboxConfig(base_url=ehr_base_url(server.port), open_fhir=True, oracle_chargeitem=True)
    server.serve(create_sandbox_app(config))
    yield config.fhir_base, server.app.extensions["sandbox"]
    server.stop()


@pytest.fixture
def ehr(oracle_ehr: tuple[str, SandboxState]) -> tuple[str, SandboxState]:
    oracle_ehr[1].reset()
    return oracle_ehr


def new_db(path: Path) -> Database:
    database = Database(f"sqlite:///{path}")
    Base.metadata.create_all(database.engine)
    return database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = new_db(tmp_path / "w.db")
    yield database
    database.dispose()


def service(base: str, draft_id: str = "draft-oracle") -> SignedService:
    return signed(
        issuer=base,
        patient_id=PATIENT,
        encounter_id=ENCOUNTER,
        fhir_user=AUTHOR,
        organization="Organization/org-riverside-clinic",
        draft_id=draft_id,
    )


def billable(client: FhirClient) -> list[dict[str, Any]]:
    """Every charge on the encounter, by Oracle's own search."""
    return client.search("ChargeItem", [("context", f"Encounter/{ENCOUNTER}"), ("-status", "billable")])


def test_note_and_charge_via_create_then_reruns_with_and_without_the_ledger_write_one_charge(
    ehr, db, tmp_path
) -> None:
    base, state = ehr
    client = FhirClient(base)
    first = write_signed_service(db, client, ORACLE, service(base))
    assert first.status == "written" and first.strategy == "operation", first.to_dict()
    note = client.read(*str(first.ref("note")).split("/"))
    charge = client.read(*str(first.ref("charge-0")).split("/"))
    assert note["subject"] == {"reference": f"Patient/{PATIENT}"}
    assert note["content"][0]["attachment"]["contentType"] == "text/plain;charset=utf-8"
    assert charge["status"] == "billable" and "identifier" not in charge  # made by $create, not a POST
    assert charge["code"]["coding"] == [{"system": ORACLE.bill_code_system, "code": "98960"}]
    assert charge["context"] == {"reference": f"Encounter/{ENCOUNTER}"}
    assert charge["occurrenceDateTime"].startswith("2015-11-01")

    again = write_signed_service(db, FhirClient(base), ORACLE, service(base))
    assert again.status == "already-written" and again.ref("charge-0") == first.ref("charge-0")

    empty = new_db(tmp_path / "empty.db")
    rerun = write_signed_service(empty, FhirClient(base), ORACLE, service(base))
    assert rerun.status == "queued-in-outbox", rerun.to_dict()
    assert rerun.question == {"key": "charge-0", "candidates": [first.ref("charge-0")]}
    answered = retry_outbox_entry(
        empty,
        FhirClient(base),
        str(rerun.outbox_id),
        decision=ChargeDecision("charge-0", ours=first.ref("charge-0")),
    )
    empty.dispose()
    assert answered.status == "already-written" and answered.ref("charge-0") == first.ref("charge-0")
    assert [f"ChargeItem/{c['id']}" for c in billable(client)] == [first.ref("charge-0")]
    assert state.store.count("ChargeItem") == 1


def test_a_create_whose_answer_is_lost_after_commit_is_found_and_not_sent_again(ehr, db) -> None:
    base, state = ehr
    state.faults.add(method="POST", path="/fhir/ChargeItem/$create", drop_after_commit=True, times=1)
    client = FhirClient(base)
    lost = write_signed_service(db, client, ORACLE, service(base))
    assert lost.status == "queued-in-outbox" and lost.http_status is None and lost.question is None
    assert state.store.count("ChargeItem") == 1  # the server did make the charge
    retried = retry_outbox_entry(db, FhirClient(base), str(lost.outbox_id))
    assert retried.status == "written", retried.to_dict()
    [charge] = billable(client)
    assert retried.ref("charge-0") == f"ChargeItem/{charge['id']}"
    assert state.store.count("ChargeItem") == 1 and state.store.count("DocumentReference") >= 1
    notes = client.search("DocumentReference", [("encounter", f"Encounter/{ENCOUNTER}")])
    assert [n["id"] for n in notes].count(str(retried.ref("note")).split("/")[1]) == 1
