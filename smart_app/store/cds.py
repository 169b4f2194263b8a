"""Store tables of the CDS services: cards issued, feedback received, JWT ids already used.

Cards are recorded when issued so that a card nobody acted on shows up as *ignored* (CDS Hooks clients do not
report ignored cards: the spec says the service is not informed), and so feedback can be tied to the hook,
patient and rule that produced it. Only ids and codes are stored: no names, no note text, no tokens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.clock import utcnow
from smart_app.store.database import Base
from smart_app.store.types import UtcDateTime


class CdsCardIssued(Base):
    __tablename__ = "cds_card_issued"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    hook_instance: Mapped[str | None] = mapped_column(String(128))
    fhir_server: Mapped[str | None] = mapped_column(String(512))
    patient_id: Mapped[str | None] = mapped_column(String(128))
    encounter_id: Mapped[str | None] = mapped_column(String(128))
    user_ref: Mapped[str | None] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(64))  # what the card is about, e.g. "billable-routes"
    indicator: Mapped[str] = mapped_column(String(16))
    codes: Mapped[str] = mapped_column(String(256), default="")  # billing codes named on the card
    rules: Mapped[str] = mapped_column(Text, default="")  # rule ids behind the card, space separated
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CdsFeedback(Base):
    __tablename__ = "cds_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    card_uuid: Mapped[str] = mapped_column(String(64), index=True)
    known_card: Mapped[str | None] = mapped_column(ForeignKey("cds_card_issued.uuid"), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))  # accepted | overridden
    reason_system: Mapped[str | None] = mapped_column(String(256))
    reason_code: Mapped[str | None] = mapped_column(String(128))
    reason_display: Mapped[str | None] = mapped_column(String(256))
    user_comment: Mapped[str | None] = mapped_column(Text)
    accepted_suggestions: Mapped[str] = mapped_column(Text, default="")
    outcome_timestamp: Mapped[datetime] = mapped_column(UtcDateTime)
    client_iss: Mapped[str | None] = mapped_column(String(512))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        # The same report sent twice (clients may resend) is stored once.
        UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_cds_feedback_report"),
    )


class CdsJwtSeen(Base):
    __tablename__ = "cds_jwt_seen"

    iss: Mapped[str] = mapped_column(String(512), primary_key=True)
    jti: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
