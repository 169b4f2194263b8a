"""SMART Backend Services: an access token for the app itself (no user, no launch), for the Bulk Data export.

``client_credentials`` with a ``private_key_jwt`` client assertion (RS384 or ES384, at most five minutes, a
fresh ``jti`` each time: ``client_auth.ShortLivedPrivateKeyJWT``), ``system/`` scopes in SMART v2 spelling,
retried once in v1 spelling (``.read``) where the server refuses v2 or advertises only ``permission-v1``. The
token endpoint comes from the same discovery as a launch (the well-known document, pinned to the profile's
origins). The token is kept until shortly before it expires (backend tokens usually live five minutes), then a
new one is asked for: there is no refresh token in this grant. Framework-agnostic: no Flask.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from smart_app.profiles import BackendConfig, Profile, ProfileError
from smart_app.smart.client_auth import ShortLivedPrivateKeyJWT, import_signing_key
from smart_app.smart.discovery import DEFAULT_TIMEOUT, Discovery
from smart_app.smart.errors import ClientConfigError, TokenError

EXPIRY_MARGIN = 30.0  # seconds before expiry at which a cached token is no longer handed out
DEFAULT_LIFETIME = 300  # when the server gives no expires_in


def system_scopes(types: Sequence[str]) -> tuple[str, ...]:
    """SMART v2 read-and-search scopes for each resource type."""
    return tuple(f"system/{t}.rs" for t in types)


def v1_spelling(scopes: Sequence[str]) -> tuple[str, ...]:
    """The same read access in SMART v1 spelling: ``system/X.rs`` → ``system/X.read`` (duplicates dropped)."""
    out: list[str] = []
    for scope in scopes:
        base, _, perm = scope.rpartition(".")
        v1 = f"{base}.read" if perm and set(perm) <= set("rs") else scope
        if v1 not in out:
            out.append(v1)
    return tuple(out)


class BackendTokenSource:
    """Hands out a valid system access token for one profile's ``[backend]`` registration.

    ``token()`` for the current one (fetched or renewed as needed), ``renew()`` after a 401: a FhirClient
    takes them as its ``token_provider`` and ``refresher``.
    """

    def __init__(
        self,
        profile: Profile,
        scopes: Sequence[str],
        *,
        http: requests.Session | None = None,
        discovery: Discovery | None = None,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        if profile.backend is None:
            raise ClientConfigError(
                f"profile {profile.name!r} has no [backend] table: register a backend app at the EHR and "
                "name its client id and key there (docs/configuration.md)"
            )
        self.profile = profile
        self.backend: BackendConfig = profile.backend
        self.scopes = tuple(profile.backend.scopes or scopes)
        self.http = http or requests.Session()
        self.discovery = discovery or Discovery(self.http)
        self.clock = clock
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.granted_scope = ""
        self.requests_sent = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires_at - EXPIRY_MARGIN:
                self._fetch()
            assert self._token is not None
            return self._token

    def renew(self) -> bool:
        """Drop the cached token and get a new one (a 401 mid-export); False when none can be had."""
        with self._lock:
            self._token = None
            try:
                self._fetch()
            except TokenError:
                return False
            return True

    def _fetch(self) -> None:
        endpoints = self.discovery.endpoints(self.profile)
        scopes = self.scopes
        if "permission-v1" in endpoints.capabilities and "permission-v2" not in endpoints.capabilities:
            scopes = v1_spelling(scopes)
        try:
            body = self._request(endpoints.token_endpoint, scopes)
        except TokenError as exc:
            v1 = v1_spelling(scopes)
            if exc.error != "invalid_scope" or v1 == scopes:
                raise
            body = self._request(endpoints.token_endpoint, v1)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenError("the token endpoint answered without an access_token")
        if str(body.get("token_type", "")).lower() != "bearer":
            raise TokenError(f"unexpected token_type {body.get('token_type')!r} (expected Bearer)")
        try:
            lifetime = float(body.get("expires_in") or DEFAULT_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME
        self._token = token
        self._expires_at = self.clock() + lifetime
        self.granted_scope = str(body.get("scope") or " ".join(scopes))

    def _request(self, token_endpoint: str, scopes: Sequence[str]) -> dict[str, Any]:
        session = self._session(token_endpoint)
        self.requests_sent += 1
        try:
            token = session.fetch_token(
                token_endpoint, grant_type="client_credentials", scope=" ".join(scopes), timeout=self.timeout
            )
        except OAuthError as exc:
            detail = f": {exc.description}" if exc.description else ""
            raise TokenError(f"the token endpoint refused the backend client ({exc.error}{detail})",
                             error=exc.error) from exc  # fmt: skip
        except requests.RequestException as exc:
            raise TokenError(f"no answer from the token endpoint ({type(exc).__name__})") from exc
        except ValueError as exc:  # not JSON
            raise TokenError("the token endpoint did not answer with JSON") from exc
        return dict(token)

    def _session(self, token_endpoint: str) -> OAuth2Session:
        where = f"profile {self.profile.name!r} [backend]"
        try:
            client_id = self.backend.resolved_client_id(self.profile.name)
            pem = self.backend.private_key_pem(self.profile.name)
        except ProfileError as exc:
            raise ClientConfigError(str(exc)) from exc
        key = import_signing_key(pem, self.backend.alg, where)
        session = OAuth2Session(client_id, key, token_endpoint_auth_method="private_key_jwt")  # noqa: S106
        session.mount("https://", self.http.get_adapter("https://"))
        session.mount("http://", self.http.get_adapter("http://"))
        headers = {"kid": self.backend.key_id, "typ": "JWT"}
        session.register_client_auth_method(
            ShortLivedPrivateKeyJWT(token_endpoint, alg=self.backend.alg, headers=headers)
        )
        return session
