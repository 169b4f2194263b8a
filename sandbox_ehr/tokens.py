"""Launch contexts, authorization codes and tokens of the sandbox, kept in memory.

They implement Authlib's model mixins so Authlib's grants and ResourceProtector do the protocol work.
A sandbox restart logs everyone out, which is what a development EHR may do.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin


@dataclass(frozen=True)
class LaunchContext:
    """Who and what a launch is about: the practitioner (user), patient and encounter in context, and for a
    launch from a CDS card the link's ``appContext`` (handed to the app in the token response)."""

    practitioner: str
    patient: str | None = None
    encounter: str | None = None
    client_id: str | None = None
    ehr_launch: bool = True
    app_context: str | None = None

    def get_user_id(self) -> str:
        return self.practitioner


@dataclass
class AuthCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    context: LaunchContext
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    expires_at: float
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class TokenRecord(TokenMixin):
    access_token: str
    client_id: str
    scope: str
    context: LaunchContext
    expires_in: int
    refresh_token: str | None = None
    refresh_expires_at: float = 0.0
    grant_type: str = "authorization_code"
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def refresh_usable(self) -> bool:
        return not self.revoked and time.time() < self.refresh_expires_at


class TokenStore:
    """Launch values, codes and tokens; everything single-use where the spec says so."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._launches: dict[str, tuple[LaunchContext, float]] = {}
        self._codes: dict[str, AuthCode] = {}
        self._access: dict[str, TokenRecord] = {}
        self._refresh: dict[str, TokenRecord] = {}
        self._jti: set[str] = set()

    def mint_launch(self, context: LaunchContext, lifetime: int) -> str:
        value = secrets.token_urlsafe(24)
        with self._lock:
            self._launches[value] = (context, time.time() + lifetime)
        return value

    def take_launch(self, value: str) -> LaunchContext | None:
        """A launch value works once (like Epic's), within its lifetime."""
        with self._lock:
            item = self._launches.pop(value, None)
        return item[0] if item and item[1] > time.time() else None

    def save_code(self, code: AuthCode) -> None:
        with self._lock:
            self._codes[code.code] = code

    def get_code(self, code: str, client_id: str) -> AuthCode | None:
        with self._lock:
            item = self._codes.get(code)
        if item is None or item.client_id != client_id or item.expires_at < time.time():
            return None
        return item

    def delete_code(self, code: str) -> None:
        with self._lock:
            self._codes.pop(code, None)

    def save_token(self, record: TokenRecord) -> None:
        with self._lock:
            self._access[record.access_token] = record
            if record.refresh_token:
                self._refresh[record.refresh_token] = record

    def issued(self, client_id: str | None = None, grant_type: str | None = None) -> list[TokenRecord]:
        """Access tokens issued so far (tests check that a refresh really happened)."""
        with self._lock:
            records = list(self._access.values())
        return [r for r in records if client_id in (None, r.client_id) and grant_type in (None, r.grant_type)]

    def expire_access_tokens(self, client_id: str | None = None) -> int:
        """Make every live access token (of one client) expired now, as an EHR ending sessions would."""
        count = 0
        for record in self.issued(client_id):
            if not record.is_expired():
                record.expires_in = 0
                count += 1
        return count

    def by_access(self, token: str) -> TokenRecord | None:
        with self._lock:
            return self._access.get(token)

    def by_refresh(self, token: str) -> TokenRecord | None:
        with self._lock:
            record = self._refresh.get(token)
        return record if record and record.refresh_usable() else None

    def revoke_refresh(self, token: str) -> None:
        with self._lock:
            record = self._refresh.pop(token, None)
        if record:
            record.refresh_expires_at = 0.0

    def use_jti(self, client_id: str, jti: str) -> bool:
        """False when a client assertion's ``jti`` was seen before (replay)."""
        key = f"{client_id}:{jti}"
        with self._lock:
            if key in self._jti:
                return False
            self._jti.add(key)
            return True
