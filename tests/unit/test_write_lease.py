"""The write lease as a fencing token (issue 10): a holder whose job was taken over can record no step and
no result; its heartbeat renews the lease while it holds the job and notices when it no longer does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from smart_app.store import Base, Database
from smart_app.store.writeback import LedgerStep, WriteJob, utcnow
from smart_app.writeback import ledger

KEY = "job-lease"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'lease.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def taken_over(db: Database) -> tuple[ledger.Fence, ledger.Fence]:
    """The first holder's fence and the fence of the claimant that took the job over after its lease."""
    first = ledger.claim_job(db, KEY, lease=timedelta(seconds=60))
    assert (first.kind, first.generation) == ("claimed", 1)
    assert ledger.claim_job(db, KEY).kind == "busy"
    later = utcnow() + timedelta(seconds=61)
    second = ledger.claim_job(db, KEY, now=later, lease=timedelta(seconds=600))
    assert (second.kind, second.generation) == ("claimed", 2)
    return ledger.Fence(db, KEY, 1), ledger.Fence(db, KEY, 2, timedelta(seconds=600))


def test_a_taken_over_holder_records_no_step_and_no_result(db: Database) -> None:
    stale, current = taken_over(db)
    with pytest.raises(ledger.LeaseLostError):
        ledger.mark(db, "id-1", write_key=KEY, resource_type="ChargeItem", state="sending", fence=stale)
    with pytest.raises(ledger.LeaseLostError):
        ledger.finish_job(db, KEY, "written", '{"stale": true}', fence=stale)
    with pytest.raises(ledger.LeaseLostError):
        stale.renew()
    assert ledger.steps(db, ["id-1"]) == {}
    ledger.mark(
        db, "id-1", write_key=KEY, resource_type="ChargeItem", state="done", server_ref="C/9", fence=current
    )
    ledger.finish_job(db, KEY, "written", '{"current": true}', fence=current)
    with db.session() as s:
        job = s.get(WriteJob, KEY)
        assert job is not None and (job.status, job.generation, job.result_json) == (
            "written",
            2,
            '{"current": true}',
        )
        assert s.get(LedgerStep, "id-1") is not None


def test_a_finished_job_is_not_running_any_more_so_a_late_step_of_its_holder_is_refused(db: Database) -> None:
    claim = ledger.claim_job(db, KEY)
    fence = ledger.Fence(db, KEY, claim.generation)
    ledger.finish_job(db, KEY, "written", "{}", fence=fence)
    with pytest.raises(ledger.LeaseLostError):
        ledger.mark(db, "late", write_key=KEY, resource_type="Provenance", state="sending", fence=fence)


def test_the_heartbeat_renews_the_lease_while_held_and_reports_a_takeover(db: Database) -> None:
    claim = ledger.claim_job(db, KEY, lease=timedelta(seconds=30))
    fence = ledger.Fence(db, KEY, claim.generation, timedelta(seconds=30))
    first_until = lease_until(db)
    with ledger.heartbeat(fence, interval=0.01) as lost:
        deadline = time.monotonic() + 30
        while lease_until(db) == first_until and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lease_until(db) > first_until and not lost.is_set()
        with db.session() as s:  # another claimant takes the job over (as after a freeze past the lease)
            job = s.get(WriteJob, KEY)
            assert job is not None
            job.generation += 1
        assert lost.wait(30)


def lease_until(db: Database) -> object:
    with db.session() as s:
        job = s.get(WriteJob, KEY)
        assert job is not None
        return job.lease_until


def test_the_heartbeat_tells_its_caller_after_each_renewal(db: Database) -> None:
    claim = ledger.claim_job(db, KEY)
    beats: list[int] = []
    with ledger.heartbeat(
        ledger.Fence(db, KEY, claim.generation), interval=0.01, alive=lambda: beats.append(1)
    ):
        deadline = time.monotonic() + 30
        while len(beats) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(beats) >= 2
