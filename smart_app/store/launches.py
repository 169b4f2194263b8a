"""Launch records: the server-side half of every SMART launch (state, PKCE verifier, tokens, context).

Why server-side: an EHR frame may drop or share cookies, and several launches run side by side in one browser.
A record is found first by its ``state`` (during authorization) and then by an opaque ``handle`` (in the URL
of the launch's pages). The browser holds only a binding cookie whose hash is stored here, so a handle or a
state works only in the browser that started the launch. Tokens never leave this table, and are sealed in it
(``TokenSealer``), so a copy of the database alone does not hand out bearer tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Boolean, Integer, String, Text, bindparam, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from smart_app.clock import utcnow
from smart_app.store.database import Base
from smart_app.store.types import UtcDateTime


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random string (32 bytes = 256 bits; state needs ≥ 122, SMART App Launch §1.5)."""
    return secrets.token_urlsafe(nbytes)


def binding_hash(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode("utf-8")).hexdigest()


class TokenSealer:
    """Encrypts tokens at rest (Fernet: AES-CBC + HMAC) with a key derived from the app's secret key.

    Rotation: ``previous`` keys (``SMART_EDU_SECRET_KEY_PREVIOUS``) still unseal what they sealed, so open
    launches survive a key change; everything is sealed with the current key only."""

    def __init__(self, secret_key: str, previous: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([_fernet(secret_key), *(_fernet(k) for k in previous)])

    def seal(self, value: str | None) -> str | None:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii") if value else None

    def unseal(self, value: str | None) -> str | None:
        """The token, or None when there is none or it was sealed under a key no longer accepted."""
        if not value:
            return None
        try:
            return self._fernet.decrypt(value.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            return None


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"smart-edu launch tokens|" + secret_key.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class LaunchRecord(Base):
    __tablename__ = "launch_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    handle: Mapped[str | None] = mapped_column(String(128), unique=True, index=True, nullable=True)
    binding: Mapped[str] = mapped_column(String(64))  # sha256 of the browser's binding cookie
    profile_name: Mapped[str] = mapped_column(String(100))
    iss: Mapped[str] = mapped_column(String(500))
    launch_type: Mapped[str] = mapped_column(String(20))  # ehr | standalone
    launch_param: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_verifier: Mapped[str | None] = mapped_column(String(200), nullable=True)
    redirect_uri: Mapped[str] = mapped_column(String(500))
    authorize_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | active | failed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    state_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the pending state, then the whole launch
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    context_json: Mapped[str] = mapped_column(Text, default="{}")
    id_token_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def context(self) -> dict[str, Any]:
        value = json.loads(self.context_json or "{}")
        return value if isinstance(value, dict) else {}


def find_by_state(session: Session, state: str) -> LaunchRecord | None:
    return session.scalars(select(LaunchRecord).where(LaunchRecord.state == state)).first()


def find_by_handle(session: Session, handle: str) -> LaunchRecord | None:
    return session.scalars(select(LaunchRecord).where(LaunchRecord.handle == handle)).first()


def find_with_context_stamp(session: Session, handle: str) -> tuple[LaunchRecord | None, datetime | None]:
    """The launch record and when its clinical context was last read (None: never), in ONE query: every
    request of a launch needs the first, every live check the second."""
    global _WITH_STAMP
    if _WITH_STAMP is None:  # built once (the live check runs it on every pause in typing)
        from smart_app.store.context import LaunchContextRow

        _WITH_STAMP = (
            select(LaunchRecord, LaunchContextRow.read_at)
            .outerjoin(LaunchContextRow, LaunchContextRow.handle == LaunchRecord.handle)
            .where(LaunchRecord.handle == bindparam("handle"))
        )
    row = session.execute(_WITH_STAMP, {"handle": handle}).first()
    return (row[0], row[1]) if row else (None, None)


_WITH_STAMP: Any = None


def claim_state(session: Session, record_id: int, now: datetime) -> bool:
    """Mark a state used, atomically: True for one caller only, so a replayed callback never exchanges."""
    result = session.execute(
        update(LaunchRecord)
        .where(LaunchRecord.id == record_id, LaunchRecord.state_used_at.is_(None))
        .values(state_used_at=now)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def swap_tokens(
    session: Session,
    record_id: int,
    *,
    old_access_token: str | None,
    access_token: str,
    refresh_token: str | None,
    expires_at: datetime | None,
) -> bool:
    """Store refreshed tokens unless another worker already did (compare-and-set on the old access token)."""
    result = session.execute(
        update(LaunchRecord)
        .where(LaunchRecord.id == record_id, LaunchRecord.access_token == old_access_token)
        .values(access_token=access_token, refresh_token=refresh_token, token_expires_at=expires_at)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
