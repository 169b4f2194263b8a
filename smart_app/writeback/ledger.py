"""The write ledger: who holds a signed service's write (double submit) and how far each step got (resume).

The server stays the source of truth (a lookup by identifier precedes every create); the ledger only lets an
interrupted write skip the steps it knows are finished, and makes two simultaneous submits collide on a
primary key so that one waits for the other instead of writing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from smart_app.clock import utcnow
from smart_app.store import Database
from smart_app.store.writeback import LedgerStep, WriteJob

LEASE = timedelta(seconds=120)
StepState = Literal["sending", "unknown", "failed", "done"]
FINISHED = ("written", "already-written", "note-only")


@dataclass(frozen=True)
class Claim:
    kind: Literal["claimed", "finished", "busy"]
    status: str | None = None
    result_json: str | None = None


@dataclass(frozen=True)
class Step:
    state: str
    server_ref: str | None
    created: bool


def claim_job(db: Database, write_key: str, *, now: datetime | None = None) -> Claim:
    """Take the write of one signed service, or say it is finished (with its result) or busy elsewhere."""
    now = now or utcnow()
    try:
        with db.session() as s:
            s.add(WriteJob(write_key=write_key, status="running", lease_until=now + LEASE, generation=1))
        return Claim("claimed")
    except IntegrityError:
        pass
    with db.session() as s:
        job = s.get(WriteJob, write_key)
        if job is None:  # deleted in between: try again from the top
            return claim_job(db, write_key, now=now)
        if job.status in FINISHED:
            return Claim("finished", job.status, job.result_json)
        if job.status == "running" and job.lease_until > now:
            return Claim("busy")
        # A queued (outbox) write, or a running one whose process died: take it over, one claimant only.
        swapped = s.execute(
            update(WriteJob)
            .where(WriteJob.write_key == write_key, WriteJob.generation == job.generation)
            .values(status="running", lease_until=now + LEASE, generation=job.generation + 1)
        )
        won = getattr(swapped, "rowcount", 0) == 1
    return Claim("claimed") if won else Claim("busy")


def finished_job(db: Database, write_key: str) -> Claim | None:
    """The job's final result if it finished (written, already written, note only); else None."""
    with db.session() as s:
        job = s.get(WriteJob, write_key)
        if job is None or job.status not in FINISHED:
            return None
        return Claim("finished", job.status, job.result_json)


def wait_for_job(
    db: Database, write_key: str, *, timeout: float = 60.0, sleep: Callable[[float], None] = time.sleep
) -> Claim:
    """Poll a busy job until its holder finishes (or the lease ends and this caller may take it over)."""
    deadline = time.monotonic() + timeout
    while True:
        claim = claim_job(db, write_key)
        if claim.kind != "busy" or time.monotonic() >= deadline:
            return claim
        sleep(0.1)


def finish_job(db: Database, write_key: str, status: str, result_json: str) -> None:
    with db.session() as s:
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
) -> None:
    """Record a step's state; committed at once, so a crash right after still leaves the record."""
    with db.session() as s:
        row = s.get(LedgerStep, identifier)
        if row is None:
            row = LedgerStep(
                identifier=identifier, write_key=write_key, resource_type=resource_type, state=state
            )
            s.add(row)
        row.state = state
        row.server_ref = server_ref
        row.created = created
