"""The write lease against a server slower than the lease (issue 10): the writer's heartbeat keeps its job
while the EHR is slow, so a second claimant waits for its result; a writer frozen past the lease (SIGSTOP: a
stalled VM, a GC pause) is taken over, and when it wakes up its next ledger step finds the generation moved
and it stops. Exactly one ChargeItem and one DocumentReference either way. The sandbox EHR is real, on
loopback; the first writer is its own process (sequential strategy: plain creates, so the server itself would
file a duplicate); leases of one or two seconds keep the test to seconds, not minutes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fhir_mappings import extensions as ext
from sandbox_ehr.app import SandboxState, create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import ehr_base_url
from smart_app.fhir_client import FhirClient
from smart_app.store import Base, Database
from smart_app.store.writeback import LedgerStep, WriteJob, utcnow
from smart_app.writeback import WritebackConfig, WriteResult, write_signed_service
from tests.unit.test_write_factories import record, signed

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
LEASE = 1.0
PATIENT, ENCOUNTER = "edu-dm-commercial", "enc-dm-commercial-0302"

WRITER = textwrap.dedent(
    """
    import contextlib, json, sys, threading
    from datetime import timedelta
    from smart_app.store import Database
    from smart_app.writeback import ledger
    from smart_app.fhir_client import FhirClient
    from smart_app.writeback import WritebackConfig, write_signed_service
    from tests.e2e.test_write_lease import service

    base, url, draft, lease = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    if sys.argv[5:] == ["no-heartbeat"]:
        ledger.heartbeat = lambda fence, **_: contextlib.nullcontext(threading.Event())
    db = Database(url)
    result = write_signed_service(
        db, FhirClient(base), WritebackConfig(transaction=False), service(base, draft),
        lease=timedelta(seconds=lease),
    )
    print(json.dumps(result.to_dict()))
    """
)


def service(base: str, draft: str) -> Any:
    return signed(
        issuer=base, patient_id=PATIENT, encounter_id=ENCOUNTER, fhir_user="Practitioner/rn-okafor",
        draft_id=draft, record=record(service_date=None), start=None, end=None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def open_ehr() -> Iterator[tuple[str, SandboxState]]:
    server = ServerThread("127.0.0.1", 0)
    config = SandboxConfig(base_url=ehr_base_url(server.port), open_fhir=True)
    server.serve(create_sandbox_app(config))
    yield config.fhir_base, server.app.extensions["sandbox"]
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    url = f"sqlite:///{tmp_path / 'lease.db'}"
    db = Database(url)
    Base.metadata.create_all(db.engine)
    yield url, db
    db.dispose()


def start_writer(
    base: str, url: str, draft: str, lease: float = LEASE, *options: str
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", WRITER, base, url, draft, str(lease), *options]
    pipe = subprocess.PIPE
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=pipe, stderr=pipe, text=True)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def sending(db: Database, resource_type: str) -> bool:
    with db.session() as s:
        step = s.scalars(select(LedgerStep).where(LedgerStep.resource_type == resource_type)).first()
        return step is not None and step.state == "sending"


def lease_over(db: Database) -> bool:
    with db.session() as s:
        job = s.scalars(select(WriteJob)).first()
        until = job.lease_until if job else None
    return until is not None and until.replace(tzinfo=until.tzinfo or utcnow().tzinfo) < utcnow()


def ours(base: str, result: WriteResult, key: str) -> int:
    """How many resources on the server carry the identifier of the result's ``key`` resource."""
    client = FhirClient(base)
    resource = client.read(*str(result.ref(key)).split("/"))
    ident = f"{ext.IDENTIFIER_SYSTEM}|{resource['identifier'][0]['value']}"
    return len(client.search(resource["resourceType"], {"identifier": ident}))


def outcome(writer: subprocess.Popen[str]) -> WriteResult:
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err[-3000:]
    return WriteResult.from_dict(json.loads(out.strip().splitlines()[-1]))


def test_a_write_slower_than_its_lease_keeps_it_and_a_second_claimant_waits_for_its_result(
    open_ehr, store
) -> None:
    base, state = open_ehr
    url, db = store
    lease = 2 * LEASE  # beats every third of it: room for a loaded machine, still 3 leases of slowness
    state.faults.add(method="POST", path="/fhir/ChargeItem", latency_ms=int(lease * 3000), times=1)
    first = start_writer(base, url, "draft-slow-ehr", lease)
    try:
        wait_until(lambda: sending(db, "ChargeItem"), "the first writer sends its charge")
        second = write_signed_service(
            db, FhirClient(base), WritebackConfig(transaction=False), service(base, "draft-slow-ehr"),
            lease=timedelta(seconds=lease),
        )  # fmt: skip
        written = outcome(first)
    finally:
        first.kill()
        state.faults.clear()
    assert (written.status, second.status) == ("written", "already-written")
    assert second.ref("charge-0") == written.ref("charge-0")
    assert ours(base, written, "charge-0") == 1 and ours(base, written, "note") == 1


def test_a_writer_frozen_past_its_lease_is_taken_over_and_stops_when_it_wakes(open_ehr, store) -> None:
    base, state = open_ehr
    url, db = store
    slow = state.faults.add(method="POST", path="/fhir/DocumentReference", latency_ms=2000, times=1)
    before = notes(state)
    # A frozen process beats no more; its beat is off from the start so that SIGSTOP cannot land inside a
    # renewal, whose open transaction would hold SQLite's write lock for the whole freeze.
    stale = start_writer(base, url, "draft-frozen", LEASE, "no-heartbeat")
    try:
        wait_until(lambda: slow not in state.faults.active(), "the EHR receives the first writer's note")
        os.kill(stale.pid, signal.SIGSTOP)  # frozen: no heartbeat, no steps
        wait_until(lambda: lease_over(db), "its lease runs out")
        wait_until(lambda: notes(state) == before + 1, "the EHR commits the note the frozen writer sent")
        taken_over = write_signed_service(
            db, FhirClient(base), WritebackConfig(transaction=False), service(base, "draft-frozen"),
            lease=timedelta(seconds=LEASE),
        )  # fmt: skip
        os.kill(stale.pid, signal.SIGCONT)
        woken = outcome(stale)
    finally:
        stale.kill()
        state.faults.clear()
    assert taken_over.status == "written"
    assert {w.key: w.created for w in taken_over.resources} == {
        "note": False, "charge-0": True, "provenance": True,
    }  # fmt: skip
    assert woken.status == "already-written" and woken.ref("charge-0") == taken_over.ref("charge-0")
    assert ours(base, taken_over, "charge-0") == 1 and ours(base, taken_over, "note") == 1
    with db.session() as s:
        job = s.get(WriteJob, taken_over.write_key)
        assert job is not None and job.generation == 2 and job.status == "written"
        assert json.loads(job.result_json or "{}")["resources"] == [w.to_dict() for w in taken_over.resources]


def notes(state: SandboxState) -> int:
    from sandbox_ehr.scopes import Access

    found = state.rest.execute(Access(open=True), "GET", f"DocumentReference?patient={PATIENT}")
    return sum(1 for e in found.body.get("entry", []) if e.get("search", {}).get("mode") == "match")
