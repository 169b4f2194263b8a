"""The write ledger: who holds a signed service's write (double submit) and how far each step got (resume).

The server stays the source of truth (a lookup by identifier precedes every create); the ledger only lets an
interrupted write skip the steps it knows are finished, and makes two simultaneous submits collide on a
primary key so that one waits for the other instead of writing twice.

A claim is a lease with a ``generation`` (a fencing token). The holder renews the lease from a heartbeat
thread while it works (a slow EHR call can outlast any fixed lease) and at every step; a claimant that finds
the lease run out (its holder died or froze) takes the job over by bumping the generation. Every step the
holder records, and its finish, is conditional on the generation it claimed, in the same transaction: a
holder that was taken over learns it at its next step (``LeaseLostError``) and stops before it sends or
records anything more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from smart_app.clock import utcnow
from smart_app.store import Database
from smart_app.store.writeback import LedgerStep, WriteJob

LEASE = timedelta(seconds=120)  # the default; SMART_EDU_WRITE_LEASE sets it for a deployment
StepState = Literal["sending", "unknown", "failed", "done"]
FINISHED = ("written", "already-written", "note-only")
log = logging.getLogger(__name__)


class LeaseLostError(RuntimeError):
    """Another claimant took this write over (the lease ran out while this holder was stalled)."""


@dataclass(frozen=True)
class Claim:
    kind: Literal["claimed", "finished", "busy"]
    status: str | None = None
    result_json: str | None = None
    generation: int = 0  # of a "claimed" claim: the fencing token every step and the finish check


@dataclass(frozen=True)
class Fence:
    """The holder's claim on one job: renews the lease and proves, at each step, that it still holds it."""

    db: Database
    write_key: str
    generation: int
    lease: timedelta = LEASE

    def renew(self, session: Any | None = None) -> None:
        """Extend the lease if this holder still holds the job (in ``session``'s transaction when given,
        so a step is recorded only together with the proof); else raise LeaseLostError."""
        stmt = (
            update(WriteJob)
            .where(
                WriteJob.write_key == self.write_key,
                WriteJob.generation == self.generation,
                WriteJob.status == "running",
            )
            .values(lease_until=utcnow() + self.lease)
        )
        if session is not None:
            held = getattr(session.execute(stmt), "rowcount", 0) == 1
        else:
            with self.db.session() as s:
                held = getattr(s.execute(stmt), "rowcount", 0) == 1
        if not held:
            raise LeaseLostError(self.write_key)


@contextmanager
def heartbeat(
    fence: Fence, *, interval: float | None = None, alive: Callable[[], None] | None = None
) -> Iterator[threading.Event]:
    """Renew the lease every third of its length while the body runs (and call ``alive`` after each renewal:
    the caller's own "still writing" mark); the event is set once the lease is lost."""
    lost, stop = threading.Event(), threading.Event()
    every = interval if interval is not None else max(fence.lease.total_seconds() / 3, 0.05)

    def beat() -> None:
        while not stop.wait(every):
            try:
                fence.renew()
                if alive is not None:
                    alive()
            except LeaseLostError:
                lost.set()
                return
            except Exception:  # a database hiccup: the next beat (or the next step) tries again
                log.warning("write lease: renewal failed, retrying", exc_info=True)

    thread = threading.Thread(target=beat, name=f"lease-{fence.write_key[:12]}", daemon=True)
    thread.start()
    try:
        yield lost
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass(frozen=True)
class Step:
    state: str
    server_ref: str | None
    created: bool


def claim_job(
    db: Database, write_key: str, *, now: datetime | None = None, lease: timedelta | None = None
) -> Claim:
    """Take the write of one signed service, or say it is finished (with its result) or busy elsewhere."""
    now = now or utcnow()
    lease = lease or LEASE
    try:
        with db.session() as s:
            s.add(WriteJob(write_key=write_key, status="running", lease_until=now + lease, generation=1))
        return Claim("claimed", generation=1)
    except IntegrityError:
        pass
    with db.session() as s:
        job = s.get(WriteJob, write_key)
        if job is None:  # deleted in between: try again from the top
            return claim_job(db, write_key, now=now, lease=lease)
        if job.status in FINISHED:
            return Claim("finished", job.status, job.result_json)
        if job.status == "running" and job.lease_until > now:
            return Claim("busy")
        # A queued (outbox) write, or a running one whose holder died or froze: take it over (compare and
        # swap on the generation, so one claimant only; the old holder's fenced steps fail from now on).
        seen = job.generation  # read before the UPDATE, which refreshes ``job`` in this session
        swapped = s.execute(
            update(WriteJob)
            .where(WriteJob.write_key == write_key, WriteJob.generation == seen)
            .values(status="running", lease_until=now + lease, generation=seen + 1)
        )
        won = getattr(swapped, "rowcount", 0) == 1
    return Claim("claimed", generation=seen + 1) if won else Claim("busy")


def finished_job(db: Database, write_key: str) -> Claim | None:
    """The job's final result if it finished (written, already written, note only); else None."""
    with db.session() as s:
        job = s.get(WriteJob, write_key)
        if job is None or job.status not in FINISHED:
            return None
        return Claim("finished", job.status, job.result_json)


def wait_for_job(
    db: Database,
    write_key: str,
    *,
    timeout: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    lease: timedelta | None = None,
    take_over: bool = True,
) -> Claim:
    """Poll a busy job until its holder finishes (or, with ``take_over``, the lease ends and this caller
    takes the job over)."""
    deadline = time.monotonic() + timeout
    while True:
        claim = claim_job(db, write_key, lease=lease) if take_over else finished_job(db, write_key)
        if claim is None:
            claim = Claim("busy")
        if claim.kind != "busy" or time.monotonic() >= deadline:
            return claim
        sleep(0.1)


def finish_job(
    db: Database, write_key: str, status: str, result_json: str, *, fence: Fence | None = None
) -> None:
    """Record the job's result; with ``fence`` only while that holder holds the job (else LeaseLostError)."""
    with db.session() as s:
        if fence is not None:
            fence.renew(s)
        job = s.get(WriteJob, write_key)
        if job is not None:
            job.status = status
            job.result_json = result_json
            job.lease_until = utcnow()


def steps(db: Database, identifiers: Iterable[str]) -> dict[str, Step]:
    with db.session() as s:
        rows = s.scalars(select(LedgerStep).where(LedgerStep.identifier.in_(list(identifiers)))).all()
        return {r.identifier: Step(r.state, r.server_ref, r.created) for r in rows}


def mark(
    db: Database,
    identifier: str,
    *,
    write_key: str,
    resource_type: str,
    state: StepState,
    server_ref: str | None = None,
    created: bool = False,
    fence: Fence | None = None,
) -> None:
    """Record a step's state; committed at once, so a crash right after still leaves the record. With
    ``fence`` the step is recorded only while that holder holds the job, and renews its lease."""
    with db.session() as s:
        if fence is not None:
            fence.renew(s)
        row = s.get(LedgerStep, identifier)
        if row is None:
            row = LedgerStep(
                identifier=identifier, write_key=write_key, resource_type=resource_type, state=state
            )
            s.add(row)
        row.state = state
        row.server_ref = server_ref
        row.created = created
