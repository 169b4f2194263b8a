"""Double submit, crash mid-write, lenient servers: still exactly one charge and one note."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from smart_app.clock import utcnow
from smart_app.fhir_client import FhirClient
from smart_app.store import Base, Database
from smart_app.writeback import (
    WritebackConfig,
    WriteResult,
    build_plan,
    execute_plan,
    ledger,
    write_signed_service,
)
from smart_app.writeback.lookup import carries
from tests.http.test_writeback_fake import BASE, FakeFhir, hapi_caps
from tests.unit.test_write_factories import signed

NO_TX = WritebackConfig(transaction=False)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def test_double_submit_on_a_server_without_conditional_create_writes_one_charge(db, rsps) -> None:
    fake = FakeFhir(hapi_caps(), transactions=False, conditional=False, create_delay=0.05).install(rsps)
    barrier = threading.Barrier(2)
    results: list[WriteResult] = []

    def submit() -> None:
        barrier.wait()
        results.append(write_signed_service(db, FhirClient(BASE), NO_TX, signed()))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == ["already-written", "written"]
    assert results[0].ref("charge-0") == results[1].ref("charge-0")
    assert len(fake.of_type("ChargeItem")) == 1 and len(fake.of_type("DocumentReference")) == 1


def test_a_write_whose_process_died_is_taken_over_after_its_lease(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    client = FhirClient(BASE)
    plan = build_plan(signed(), NO_TX, "sequential")
    assert ledger.claim_job(db, plan.write_key).kind == "claimed"  # a process claims, then dies
    assert ledger.claim_job(db, plan.write_key).kind == "busy"
    later = utcnow() + ledger.LEASE + timedelta(seconds=1)
    assert ledger.claim_job(db, plan.write_key, now=later).kind == "claimed"
    ledger.finish_job(db, plan.write_key, "queued", "{}")
    assert execute_plan(db, client, plan).status == "written"
    assert len(fake.of_type("ChargeItem")) == 1


def test_restart_between_the_ledger_record_and_the_answer_looks_up_first(db, rsps) -> None:
    """The app died after recording 'sending' for the charge and after the server committed it."""
    fake = FakeFhir(hapi_caps()).install(rsps)
    client = FhirClient(BASE)
    plan = build_plan(signed(), NO_TX, "sequential")
    fake.faults.append(("POST", "ChargeItem", "drop"))
    first = execute_plan(db, client, plan)
    assert first.status == "queued-in-outbox"
    charge = next(e for e in plan.entries if e.key == "charge-0")
    assert ledger.steps(db, [charge.identifier])[charge.identifier].state == "unknown"
    fake.calls.clear()
    assert execute_plan(db, client, plan).status == "written"
    assert ("POST", "ChargeItem") not in fake.calls
    assert len(fake.of_type("ChargeItem")) == 1


def test_a_server_that_ignores_the_identifier_parameter_does_not_fake_a_match() -> None:
    plan = build_plan(signed(), NO_TX, "sequential")
    note = plan.entries[0]
    other = {"resourceType": "DocumentReference", "id": "1", "identifier": [{"system": "x", "value": "y"}]}
    ours = {**other, "identifier": note.resource["identifier"]}
    assert not carries(other, note) and carries(ours, note)
    prov = plan.entries[-1]
    assert carries({"resourceType": "Provenance", "meta": prov.resource["meta"]}, prov)
    assert not carries({"resourceType": "Provenance", "meta": {"tag": []}}, prov)
