"""Tables of write-back: the job claim, the step ledger, the outbox and the audit log.

Why each exists: the job row's primary key (one per signed service) makes a double submit collide in the
database, so only one request writes; ledger rows record every step before and after it is sent, so an
interrupted write resumes and never repeats a finished step; the outbox keeps the full write request (the
resources, never tokens) of a failed write until it succeeds; the audit log says who wrote what, when, and how
it ended (no tokens, no note text).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.clock import utcnow
from smart_app.store.database import Base
from smart_app.store.types import UtcDateTime


class WriteJob(Base):
    __tablename__ = "writeback_job"

    write_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # running, then the WriteResult status
    lease_until: Mapped[datetime] = mapped_column(UtcDateTime)
    generation: Mapped[int] = mapped_column(Integer, default=0)  # bumped by each claim (compare-and-swap)
    result_json: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class LedgerStep(Base):
    __tablename__ = "writeback_ledger"

    identifier: Mapped[str] = mapped_column(String(80), primary_key=True)  # unique business identifier value
    write_key: Mapped[str] = mapped_column(String(80), index=True)
    resource_type: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))  # sending | unknown | failed | done
    server_ref: Mapped[str | None] = mapped_column(String(200), default=None)  # Type/id
    created: Mapped[bool] = mapped_column(default=False)  # this app's write created it (not found existing)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class OutboxEntry(Base):
    __tablename__ = "writeback_outbox"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    write_key: Mapped[str] = mapped_column(String(80), unique=True)
    issuer: Mapped[str] = mapped_column(String(500))
    patient_id: Mapped[str] = mapped_column(String(200))
    encounter_id: Mapped[str | None] = mapped_column(String(200), default=None)
    draft_id: Mapped[str] = mapped_column(String(200), index=True)
    fhir_user: Mapped[str | None] = mapped_column(String(300), default=None)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)
    server_message: Mapped[str] = mapped_column(Text, default="")
    plan_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class AuditRow(Base):
    __tablename__ = "writeback_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    who: Mapped[str | None] = mapped_column(String(300), default=None)  # fhirUser
    action: Mapped[str] = mapped_column(String(30))  # signed | write-attempt | write-result | outbox-retry
    write_key: Mapped[str] = mapped_column(String(80), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    patient_id: Mapped[str] = mapped_column(String(200))
    encounter_id: Mapped[str | None] = mapped_column(String(200), default=None)
    what_json: Mapped[str] = mapped_column(Text)  # resource ids, codes, units
    outcome: Mapped[str] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text, default=None)
