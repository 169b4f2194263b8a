"""Server-side drafts of the clinician's documentation, saved as they type (issue 6, DESIGN.md §3).

A draft belongs to (issuer, patient, encounter, clinician), not to a launch: a relaunch, an expired token or
an app restart finds it again. At most one draft per key is ``open`` (a partial unique index enforces it);
signing moves it to ``signing`` with a single conditional UPDATE by draft id, so two clicks on "sign" (on one
instance or several) cannot both write. The draft id is part of the written resources' business identifier,
which is why a signed draft is never reused, and why a request about one draft never saves into another: it
saves into that draft by id (``save_into``) or, once it is claimed, waits for its result (``wait_settled``)
instead of creating a new draft that would be signed with new identifiers. A draft left in ``signing`` by a
process that died mid-write is reopened (same id, so the same identifiers) once ``STALE_SIGNING`` has passed:
signing again resumes that write instead of a new draft writing the service a second time.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from smart_app.clock import utcnow
from smart_app.store import Database, DraftRow

OPEN, SIGNING, SIGNED, QUEUED = "open", "signing", "signed", "queued"
# Longer than a crashed write holds its job (the write-back lease, 120 s, plus a waiting double submit, 60 s);
# a live write keeps its draft fresh from its lease heartbeat (``keep_signing``), so it is never reopened.
STALE_SIGNING = timedelta(minutes=5)
# How long a second signer waits for the first one's result before it shows the (refreshing) "writing" page.
SIGN_WAIT = 30.0
STILL_WRITING = (
    "Another process is still writing this service to the EHR. Sign again in a minute: you will see what it "
    "wrote; nothing is written twice."
)
INTERRUPTED = (
    "Writing was interrupted. Sign again: what already reached the EHR is found, never written twice."
)


@dataclass(frozen=True)
class DraftKey:
    """Who and what a draft is for; everything but the issuer and patient may be empty."""

    issuer: str
    patient_id: str
    encounter_id: str = ""
    clinician: str = ""


@dataclass(frozen=True)
class Draft:
    """A detached copy of a draft row, safe to use after the session closes."""

    id: str
    key: DraftKey
    status: str
    fields: dict[str, Any]
    note_text: str | None
    launch_handle: str
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    note_basis: str | None = None  # fingerprint of the generated note the saved note started from


def _to_draft(row: DraftRow) -> Draft:
    key = DraftKey(row.issuer, row.patient_id, row.encounter_id, row.clinician)
    result = json.loads(row.result_json) if row.result_json else None
    return Draft(
        id=row.id,
        key=key,
        status=row.status,
        fields=json.loads(row.fields_json or "{}"),
        note_text=row.note_text,
        launch_handle=row.launch_handle,
        result=result,
        created_at=row.created_at,
        updated_at=row.updated_at,
        note_basis=row.note_basis,
    )


def _key_filter(key: DraftKey) -> tuple[Any, ...]:
    return (
        DraftRow.issuer == key.issuer,
        DraftRow.patient_id == key.patient_id,
        DraftRow.encounter_id == key.encounter_id,
        DraftRow.clinician == key.clinician,
    )


def get(db: Database, draft_id: str) -> Draft | None:
    with db.session() as s:
        row = s.get(DraftRow, draft_id)
        return _to_draft(row) if row else None


def find_open(db: Database, key: DraftKey) -> Draft | None:
    """The key's open draft, if any (an interrupted signing is reopened first)."""
    _reopen_stale(db, key)
    with db.session() as s:
        row = s.scalars(select(DraftRow).where(*_key_filter(key), DraftRow.status == OPEN)).first()
        return _to_draft(row) if row else None


def latest(db: Database, key: DraftKey) -> Draft | None:
    """The key's most recently touched draft in any state (the page shows a signed or queued one's result)."""
    with db.session() as s:
        stmt = select(DraftRow).where(*_key_filter(key)).order_by(DraftRow.updated_at.desc()).limit(1)
        row = s.scalars(stmt).first()
        return _to_draft(row) if row else None


def queued(db: Database, key: DraftKey) -> list[Draft]:
    """The key's signed drafts whose write waits in the outbox, oldest first: the page shows every one, not
    only the latest, so no pending write is hidden behind a newer service."""
    with db.session() as s:
        stmt = (
            select(DraftRow).where(*_key_filter(key), DraftRow.status == QUEUED).order_by(DraftRow.updated_at)
        )
        return [_to_draft(r) for r in s.scalars(stmt).all()]


def save(
    db: Database,
    key: DraftKey,
    fields: dict[str, Any],
    *,
    handle: str,
    note_text: str | None = None,
    note_basis: str | None = None,
) -> Draft:
    """Store the form's fields (and the note with its basis, when given) in the key's open draft, creating it
    if needed. Without ``note_text`` the saved note is kept: changing the service never drops an edit."""
    _reopen_stale(db, key)
    for _ in range(2):
        try:
            with db.session() as s:
                row = s.scalars(select(DraftRow).where(*_key_filter(key), DraftRow.status == OPEN)).first()
                if row is None:
                    row = DraftRow(
                        id=uuid.uuid4().hex,
                        issuer=key.issuer,
                        patient_id=key.patient_id,
                        encounter_id=key.encounter_id,
                        clinician=key.clinician,
                        status=OPEN,
                        created_at=utcnow(),
                    )
                    s.add(row)
                row.fields_json = json.dumps(fields, sort_keys=True)
                if note_text is not None:
                    row.note_text, row.note_basis = note_text, note_basis
                row.launch_handle = handle
                row.updated_at = utcnow()
                s.flush()
                return _to_draft(row)
        except IntegrityError:
            continue  # another request created the open draft at the same moment: update that one
    raise RuntimeError("could not save the draft")


def save_into(
    db: Database,
    draft_id: str,
    fields: dict[str, Any] | None = None,
    *,
    handle: str,
    note_text: str | None = None,
    note_basis: str | None = None,
) -> Draft | None:
    """Save into this draft if it is still open (one conditional UPDATE); None when it was claimed for
    signing or discarded meanwhile. Never creates a draft: a request about one draft must not start one."""
    values: dict[str, Any] = {"launch_handle": handle, "updated_at": utcnow()}
    if fields is not None:
        values["fields_json"] = json.dumps(fields, sort_keys=True)
    if note_text is not None:
        values |= {"note_text": note_text, "note_basis": note_basis}
    with db.session() as s:
        res = s.execute(
            update(DraftRow).where(DraftRow.id == draft_id, DraftRow.status == OPEN).values(**values)
        )
        if getattr(res, "rowcount", 0) != 1:
            return None
        row = s.get(DraftRow, draft_id)
        return _to_draft(row) if row else None


def _save_checked_statement() -> Any:
    """Built once: the live check runs it on every pause in typing, and building an ORM UPDATE (and
    synchronising a session it does not need) cost more than executing it."""
    t = cast(Table, DraftRow.__table__)
    return (
        t.update()
        .where(
            t.c.id == bindparam("b_id"),
            t.c.status == OPEN,
            t.c.issuer == bindparam("b_issuer"),
            t.c.patient_id == bindparam("b_patient"),
            t.c.encounter_id == bindparam("b_encounter"),
            t.c.clinician == bindparam("b_clinician"),
        )
        .values(
            fields_json=bindparam("b_fields"),
            launch_handle=bindparam("b_handle"),
            updated_at=bindparam("b_now"),
        )
    )


_SAVE_CHECKED = _save_checked_statement()


def save_checked(
    db: Database, draft_id: str, key: DraftKey, fields: dict[str, Any], *, handle: str
) -> datetime | None:
    """The live check's save: the form into this draft if it is still open AND belongs to ``key``, in ONE
    conditional UPDATE with nothing read before or after; returns the time saved, or None (signed, discarded
    or another visit's draft: the page must reload). The note and its basis are left as they are."""
    now = utcnow()
    params = {
        "b_id": draft_id, "b_issuer": key.issuer, "b_patient": key.patient_id,
        "b_encounter": key.encounter_id, "b_clinician": key.clinician,
        "b_fields": json.dumps(fields, sort_keys=True), "b_handle": handle, "b_now": now,
    }  # fmt: skip
    with db.engine.begin() as conn:
        res = conn.execute(_SAVE_CHECKED, params)
        return now if res.rowcount == 1 else None


def discard(db: Database, key: DraftKey) -> None:
    """Drop the key's open draft (the clinician chose to start afresh)."""
    with db.session() as s:
        row = s.scalars(select(DraftRow).where(*_key_filter(key), DraftRow.status == OPEN)).first()
        if row is not None:
            s.delete(row)


def reopen_if_stale(db: Database, draft_id: str) -> bool:
    """Reopen one draft whose signing was interrupted (its process died); True if it was."""
    draft = get(db, draft_id)
    return draft is not None and draft.status == SIGNING and _reopen_stale(db, draft.key)


def _reopen_stale(db: Database, key: DraftKey) -> bool:
    """Move the key's stale ``signing`` draft back to ``open`` unless another draft is open already. One
    conditional UPDATE; the unique index on open drafts refuses a second open one (then it stays as it is)."""
    cutoff = utcnow() - STALE_SIGNING
    try:
        with db.session() as s:
            if s.scalars(select(DraftRow.id).where(*_key_filter(key), DraftRow.status == OPEN)).first():
                return False
            stale = select(DraftRow.id).where(
                *_key_filter(key), DraftRow.status == SIGNING, DraftRow.updated_at < cutoff
            )
            first = s.scalars(stale.order_by(DraftRow.updated_at.desc()).limit(1)).first()
            if first is None:
                return False
            res = s.execute(
                update(DraftRow)
                .where(DraftRow.id == first, DraftRow.status == SIGNING, DraftRow.updated_at < cutoff)
                .values(status=OPEN, updated_at=utcnow(), result_json=json.dumps({"error": INTERRUPTED}))
            )
            return bool(getattr(res, "rowcount", 0) == 1)
    except IntegrityError:
        return False


def claim_for_signing(
    db: Database, draft_id: str, *, note_text: str | None = None, note_basis: str | None = None
) -> bool:
    """Move an open draft to ``signing`` (with the note being signed, in the same UPDATE); only one
    concurrent caller, on any instance, gets True."""
    values: dict[str, Any] = {"status": SIGNING, "updated_at": utcnow()}
    if note_text is not None:
        values |= {"note_text": note_text, "note_basis": note_basis}
    with db.session() as s:
        res = s.execute(
            update(DraftRow).where(DraftRow.id == draft_id, DraftRow.status == OPEN).values(**values)
        )
        return bool(getattr(res, "rowcount", 0) == 1)


def keep_signing(db: Database, draft_id: str) -> None:
    """Mark a ``signing`` draft as still being written (its writer's lease heartbeat calls this), so a write
    slower than ``STALE_SIGNING`` is never reopened as interrupted while it runs."""
    with db.session() as s:
        s.execute(
            update(DraftRow)
            .where(DraftRow.id == draft_id, DraftRow.status == SIGNING)
            .values(updated_at=utcnow())
        )


def wait_settled(
    db: Database,
    draft_id: str,
    *,
    timeout: float = SIGN_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> Draft | None:
    """The draft once its signing has ended (signed, queued, or open again after an error), polled; after
    ``timeout`` it is returned as it is. A second signer shows the first one's result, not a "writing" one."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        draft = get(db, draft_id)
        if draft is None or draft.status != SIGNING or time.monotonic() >= deadline:
            return draft
        sleep(delay)
        delay = min(delay * 2, 0.25)


def finish(db: Database, draft_id: str, status: str, result: dict[str, Any]) -> None:
    """Record how signing ended: ``signed``, ``queued`` (in the outbox) or back to ``open`` after an error."""
    if status not in (OPEN, SIGNED, QUEUED):
        raise ValueError(f"unknown draft status {status!r}")
    with db.session() as s:
        row = s.get(DraftRow, draft_id)
        if row is None:
            raise LookupError(draft_id)
        row.status = status
        row.result_json = json.dumps(result, sort_keys=True)
        row.updated_at = utcnow()
