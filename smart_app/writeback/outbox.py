"""The outbox: failed writes, kept with the server's message and the full write request until they succeed.

One entry per signed service (``write_key``): a repeated failure updates it. The stored plan holds the
resources and identifiers, never a token, so a retry sends exactly the same request.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from smart_app.fhir_client import FhirError
from smart_app.logs import event
from smart_app.store import Database
from smart_app.store.writeback import OutboxEntry
from smart_app.writeback.plan import WritePlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxView:
    id: str
    write_key: str
    issuer: str
    patient_id: str
    encounter_id: str | None
    draft_id: str
    status: str
    attempts: int
    http_status: int | None
    server_message: str
    updated_at: str


def put(db: Database, plan: WritePlan, error: FhirError) -> str:
    """Queue (or re-queue) the plan with the server's message; returns the entry id."""
    with db.session() as s:
        entry = s.scalars(select(OutboxEntry).where(OutboxEntry.write_key == plan.write_key)).first()
        if entry is None:
            entry = OutboxEntry(
                id=uuid.uuid4().hex,
                write_key=plan.write_key,
                issuer=plan.issuer,
                patient_id=plan.patient_id,
                encounter_id=plan.encounter_id,
                draft_id=plan.draft_id,
                fhir_user=plan.fhir_user,
                attempts=0,
                plan_json=plan.to_json(),
            )
            s.add(entry)
        entry.status = "pending"
        entry.attempts = (entry.attempts or 0) + 1
        entry.http_status = error.status
        entry.server_message = error.message
        entry_id, attempts = entry.id, entry.attempts
    event(
        log, "outbox.enqueue", level=logging.WARNING, entry=entry_id, attempts=attempts,
        http_status=error.status, write_key=plan.write_key, issuer=plan.issuer,
    )  # fmt: skip
    return entry_id


def mark_done(db: Database, write_key: str) -> None:
    with db.session() as s:
        for entry in s.scalars(select(OutboxEntry).where(OutboxEntry.write_key == write_key)).all():
            entry.status = "done"


def update_plan(db: Database, entry_id: str, plan: WritePlan) -> None:
    """Keep a clinician's decision with the queued request, so every later retry sends the same."""
    with db.session() as s:
        entry = s.get(OutboxEntry, entry_id)
        if entry is not None:
            entry.plan_json = plan.to_json()


def load_plan(db: Database, entry_id: str) -> WritePlan | None:
    with db.session() as s:
        entry = s.get(OutboxEntry, entry_id)
        return WritePlan.from_json(entry.plan_json) if entry is not None else None


def list_entries(db: Database, *, status: str | None = "pending") -> list[OutboxView]:
    query = select(OutboxEntry).order_by(OutboxEntry.created_at)
    if status:
        query = query.where(OutboxEntry.status == status)
    with db.session() as s:
        return [_view(e) for e in s.scalars(query).all()]


def pending_for_draft(db: Database, draft_id: str) -> bool:
    """True while a write of this draft waits in the outbox: the draft must be kept until it succeeds."""
    query = select(OutboxEntry.id).where(OutboxEntry.draft_id == draft_id, OutboxEntry.status == "pending")
    with db.session() as s:
        return s.scalars(query).first() is not None


def _view(e: OutboxEntry) -> OutboxView:
    return OutboxView(
        id=e.id,
        write_key=e.write_key,
        issuer=e.issuer,
        patient_id=e.patient_id,
        encounter_id=e.encounter_id,
        draft_id=e.draft_id,
        status=e.status,
        attempts=e.attempts,
        http_status=e.http_status,
        server_message=e.server_message,
        updated_at=e.updated_at.isoformat(),
    )
