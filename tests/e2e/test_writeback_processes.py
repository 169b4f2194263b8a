"""Two processes sharing one SQLite store (gunicorn runs 2 workers) submit the same signed service at the same
moment to the real sandbox EHR, with the sequential strategy (plain creates: the server itself would file a
duplicate). The job claim in the shared database lets one write and the other answer with its result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from fhir_mappings import extensions as ext
from sandbox_ehr.app import SandboxState, create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import ehr_base_url
from smart_app.clock import utcnow
from smart_app.fhir_client import FhirClient
from smart_app.store import Base, Database
from smart_app.store.writeback import LedgerStep, WriteJob
from smart_app.writeback import WritebackConfig, write_signed_service
from tests.unit.test_write_factories import record, signed

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from smart_app.store import Database
    from smart_app.fhir_client import FhirClient
    from smart_app.writeback import WritebackConfig, write_signed_service
    from tests.unit.test_write_factories import record, signed

    base, url, go, draft = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    service = signed(
        issuer=base, patient_id="edu-dm-commercial", encounter_id="enc-dm-commercial-0302",
        fhir_user="Practitioner/rn-okafor", draft_id=draft,
        record=record(service_date=None), start=None, end=None,
    )
    db = Database(url)
    while not go.exists():
        time.sleep(0.005)
    result = write_signed_service(db, FhirClient(base), WritebackConfig(transaction=False), service)
    print(json.dumps(result.to_dict()))
    """
)


@pytest.fixture(scope="module")
def open_ehr() -> Iterator[tuple[str, SandboxState]]:
    server = ServerThread("127.0.0.1", 0)
    config = SandboxConfig(base_url=ehr_base_url(server.port), open_fhir=True)
    server.serve(create_sandbox_app(config))
    yield config.fhir_base, server.app.extensions["sandbox"]
    server.stop()


def test_two_processes_submitting_the_same_service_write_one_charge_and_one_note(open_ehr, tmp_path) -> None:
    base, state = open_ehr
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    db = Database(url)
    Base.metadata.create_all(db.engine)
    db.dispose()
    state.faults.add(method="POST", path="/fhir/ChargeItem", latency_ms=300)  # widen the window
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, base, url, str(go), "draft-two-workers"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(1.0)  # both imported and waiting
    go.touch()
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    state.faults.clear()
    assert [w.returncode for w in workers] == [0, 0]
    results = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    assert sorted(r["status"] for r in results) == ["already-written", "written"]
    charges = {next(x["ref"] for x in r["resources"] if x["key"] == "charge-0") for r in results}
    assert len(charges) == 1
    client = FhirClient(base)
    charge = client.read(*charges.pop().split("/"))
    value = charge["identifier"][0]["value"]
    assert len(client.search("ChargeItem", {"identifier": f"{ext.IDENTIFIER_SYSTEM}|{value}"})) == 1
    notes = {next(x["ref"] for x in r["resources"] if x["key"] == "note") for r in results}
    assert len(notes) == 1
    note = client.read(*notes.pop().split("/"))
    note_id = f"{ext.IDENTIFIER_SYSTEM}|{note['identifier'][0]['value']}"
    assert len(client.search("DocumentReference", {"identifier": note_id})) == 1


def test_a_worker_killed_while_its_charge_is_in_flight_is_resumed_without_a_second_charge(
    open_ehr, tmp_path
) -> None:
    """kill -9 during the ChargeItem create (the note is written, the EHR commits the charge after the
    worker is gone); after the job's lease a new process resumes: the ledger says 'sending', so the charge
    is looked up, found, and not created again."""
    base, state = open_ehr
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    db = Database(url)
    Base.metadata.create_all(db.engine)
    state.faults.add(method="POST", path="/fhir/ChargeItem", latency_ms=1500, times=1)
    go = tmp_path / "go"
    go.touch()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    charges_before = state.store.count("ChargeItem")
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, base, url, str(go), "draft-killed"], cwd=ROOT, env=env, text=True
    )
    deadline = time.monotonic() + 60
    while not _charge_sending(db) and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.kill()  # SIGKILL: no cleanup, the job stays 'running' with its lease
    worker.wait(timeout=30)
    # The EHR finishes the create the dead worker sent (after the injected latency; a fixed sleep was too
    # short on a loaded machine, and the resumed write then rightly created the charge itself).
    while state.store.count("ChargeItem") == charges_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state.store.count("ChargeItem") == charges_before + 1
    with db.engine.begin() as conn:  # ... and the 120 s lease runs out
        conn.execute(update(WriteJob).values(lease_until=utcnow() - timedelta(seconds=1)))
    service = signed(
        issuer=base, patient_id="edu-dm-commercial", encounter_id="enc-dm-commercial-0302",
        fhir_user="Practitioner/rn-okafor", draft_id="draft-killed",
        record=record(service_date=None), start=None, end=None,
    )  # fmt: skip
    resumed = write_signed_service(db, FhirClient(base), WritebackConfig(transaction=False), service)
    db.dispose()
    assert resumed.status == "written"  # the charge was found, the Provenance is new
    created = {w.key: w.created for w in resumed.resources}
    assert created == {"note": True, "charge-0": False, "provenance": True}  # the note by the dead worker
    client = FhirClient(base)
    for key in ("note", "charge-0"):
        resource = client.read(*str(resumed.ref(key)).split("/"))
        ident = f"{ext.IDENTIFIER_SYSTEM}|{resource['identifier'][0]['value']}"
        assert len(client.search(resource["resourceType"], {"identifier": ident})) == 1


def _charge_sending(db: Database) -> bool:
    with db.session() as s:
        return (
            s.scalars(select(LedgerStep).where(LedgerStep.resource_type == "ChargeItem")).first() is not None
        )
