"""The drafts table (``poc_drafts``): the clinician's documentation saved as they type;
``smart_app.point_of_care.drafts`` holds the rules for using it (one open draft per key, claiming it for
signing, reopening a stale claim)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.clock import utcnow
from smart_app.store.database import Base
from smart_app.store.types import UtcDateTime

OPEN = "open"


class DraftRow(Base):
    __tablename__ = "poc_drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    patient_id: Mapped[str] = mapped_column(String(200))
    encounter_id: Mapped[str] = mapped_column(String(200))  # "" when the launch had no encounter
    clinician: Mapped[str] = mapped_column(String(500))  # fhirUser reference, "" when unknown
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    fields_json: Mapped[str] = mapped_column(Text, default="{}")
    note_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    note_basis: Mapped[str | None] = mapped_column(String(64), nullable=True)  # see point_of_care/note.py
    launch_handle: Mapped[str] = mapped_column(String(128), default="")
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_poc_drafts_key", "issuer", "patient_id", "encounter_id", "clinician"),
        Index(
            "ux_poc_drafts_one_open",
            "issuer",
            "patient_id",
            "encounter_id",
            "clinician",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )
