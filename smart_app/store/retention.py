"""What ``smart-edu purge`` deletes, and when (docs/security.md "Retention").

Why: the store holds patient data (the cached FHIR context, note text in drafts and outbox plans) and
sealed tokens; keeping them forever widens what a stolen backup gives away, and an anonymous ``GET /launch``
adds a row each time. What a hospital expects, and what this does:

- a launch never completed (no callback, or a refused one) is deleted once its state expired (minutes);
- an ended launch's sealed tokens are erased at once (nothing uses them after the handle expired), its cached
  FHIR context too, and the record itself ``retention_days`` after it ended;
- signed drafts, and unsigned drafts nobody touched for ``retention_days``, are deleted; a draft still being
  signed, or waiting in the outbox, never is;
- a sent outbox entry is deleted ``retention_days`` after it was sent; an unsent one never (it is a charge
  that has not reached the EHR); a finished write job and its ledger steps after ``retention_days``;
- the audit log and the CDS card and feedback records after ``audit_retention_days`` (7 years by default,
  the usual record-retention period for billing); used CDS JWT ids once they expired.

Every kind is one statement, all in one transaction; a dry run counts with the same predicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, not_, or_, select, update
from sqlalchemy.orm import Session

from smart_app.store.cds import CdsCardIssued, CdsFeedback, CdsJwtSeen
from smart_app.store.context import LaunchContextRow
from smart_app.store.database import Database
from smart_app.store.drafts import DraftRow
from smart_app.store.launches import LaunchRecord
from smart_app.store.writeback import AuditRow, LedgerStep, OutboxEntry, WriteJob

KEEP_WHILE_WRITING = ("signing", "queued")  # draft statuses a purge never touches by age alone


@dataclass(frozen=True)
class Retention:
    now: datetime
    retention_days: int
    audit_retention_days: int

    @property
    def cutoff(self) -> datetime:
        return self.now - timedelta(days=self.retention_days)

    @property
    def audit_cutoff(self) -> datetime:
        return self.now - timedelta(days=self.audit_retention_days)


@dataclass(frozen=True)
class Kind:
    name: str  # printed by `smart-edu purge`
    model: Any
    where: Callable[[Retention], Any]
    erase: dict[str, None] | None = None  # set these columns to NULL instead of deleting the row


def _unsent(column: Any) -> Any:
    """An outbox entry not yet sent, matched by ``column``."""
    return exists().where(OutboxEntry.status != "done", column)


KINDS: tuple[Kind, ...] = (
    Kind(
        "launches never completed",
        LaunchRecord,
        lambda r: and_(LaunchRecord.status != "active", LaunchRecord.expires_at < r.now),
    ),
    Kind(
        "tokens of ended launches",
        LaunchRecord,
        lambda r: and_(
            LaunchRecord.expires_at < r.now,
            or_(LaunchRecord.access_token.is_not(None), LaunchRecord.refresh_token.is_not(None)),
        ),
        erase={"access_token": None, "refresh_token": None, "code_verifier": None},
    ),
    Kind(
        "cached FHIR contexts of ended launches",
        LaunchContextRow,
        lambda r: not_(
            exists().where(
                LaunchRecord.handle == LaunchContextRow.handle,
                LaunchRecord.status == "active",
                LaunchRecord.expires_at >= r.now,
            )
        ),
    ),
    Kind(
        "ended launches",
        LaunchRecord,
        lambda r: and_(LaunchRecord.status == "active", LaunchRecord.expires_at < r.cutoff),
    ),
    Kind(
        "signed drafts",
        DraftRow,
        lambda r: and_(
            DraftRow.updated_at < r.cutoff,
            or_(
                DraftRow.status == "signed",
                and_(
                    DraftRow.status == "queued",
                    not_(_unsent(OutboxEntry.draft_id == DraftRow.id)),
                ),
            ),
        ),
    ),
    Kind(
        "unsigned drafts untouched",
        DraftRow,
        lambda r: and_(DraftRow.status == "open", DraftRow.updated_at < r.cutoff),
    ),
    Kind(
        "sent outbox entries",
        OutboxEntry,
        lambda r: and_(OutboxEntry.status == "done", OutboxEntry.updated_at < r.cutoff),
    ),
    Kind(
        "write ledger steps",
        LedgerStep,
        lambda r: exists().where(
            WriteJob.write_key == LedgerStep.write_key,
            WriteJob.status != "running",
            WriteJob.updated_at < r.cutoff,
            not_(_unsent(OutboxEntry.write_key == WriteJob.write_key)),
        ),
    ),
    Kind(
        "finished write jobs",
        WriteJob,
        lambda r: and_(
            WriteJob.status != "running",
            WriteJob.updated_at < r.cutoff,
            not_(_unsent(OutboxEntry.write_key == WriteJob.write_key)),
        ),
    ),
    Kind("audit log entries", AuditRow, lambda r: AuditRow.at < r.audit_cutoff),
    Kind("CDS feedback entries", CdsFeedback, lambda r: CdsFeedback.received_at < r.audit_cutoff),
    Kind(
        "CDS cards issued",
        CdsCardIssued,
        lambda r: and_(
            CdsCardIssued.issued_at < r.audit_cutoff,
            # feedback that stays names the card (a foreign key): the card stays with it
            not_(
                exists().where(
                    CdsFeedback.known_card == CdsCardIssued.uuid, CdsFeedback.received_at >= r.audit_cutoff
                )
            ),
        ),
    ),
    Kind("used CDS JWT ids", CdsJwtSeen, lambda r: CdsJwtSeen.expires_at < int(r.now.timestamp()) - 3600),
)


def purge(db: Database, retention: Retention, *, dry_run: bool = False) -> dict[str, int]:
    """Apply every kind in order (one transaction); the number of rows each deleted (or would delete).

    The order matters: CDS feedback goes before the cards it names (a foreign key). A dry run counts each kind
    against the store as it is, so a row two kinds would take (an ended launch's tokens and the launch) is
    counted by both.
    """
    counts: dict[str, int] = {}
    with db.session() as s:
        for kind in KINDS:
            counts[kind.name] = _count(s, kind, retention) if dry_run else _apply(s, kind, retention)
        if dry_run:
            s.rollback()
    return counts


def _count(s: Session, kind: Kind, retention: Retention) -> int:
    return int(s.scalar(select(func.count()).select_from(kind.model).where(kind.where(retention))) or 0)


def _apply(s: Session, kind: Kind, retention: Retention) -> int:
    if kind.erase is not None:
        statement: Any = update(kind.model).where(kind.where(retention)).values(**kind.erase)
    else:
        statement = delete(kind.model).where(kind.where(retention))
    result = s.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
