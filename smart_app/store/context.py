"""The cached FHIR context of a launch (``poc_launch_context``): the resources read at its first page, kept
so a live check needs no EHR round trip (``smart_app.point_of_care.context`` reads and writes it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.store.database import Base
from smart_app.store.types import UtcDateTime


class LaunchContextRow(Base):
    __tablename__ = "poc_launch_context"

    handle: Mapped[str] = mapped_column(String(128), primary_key=True)
    resources_json: Mapped[str] = mapped_column(Text)
    read_notes_json: Mapped[str] = mapped_column(Text, default="[]")
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)
