"""Trusting CDS clients: verify the JWT every CDS Hooks call carries (CDS Hooks 2.0 "Trusting CDS Clients").

Configured by a TOML file named in ``SMART_EDU_CDS_CLIENTS`` (config key or environment variable); see
docs/cds-hooks.md. When it is not configured the endpoints are open (development and the sandbox only).

Checks, each a 401 on failure: a Bearer JWT; ``alg`` asymmetric (never ``none`` nor HMAC) and allowed for
that client; ``iss`` on the allowlist; a ``jku`` header, if any, equal to that client's configured JWKS
URL (we never fetch a key set the token names by itself); signature by a key of the client's JWKS (picked
by ``kid``; the URL is refetched once when the ``kid`` is unknown, for key rotation); ``aud`` = the exact
URL of the endpoint called; ``exp`` in the future, ``iat`` not in the future; ``jti`` never seen before
(stored until it expires).
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from smart_app.ttl_cache import TtlCache

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("ES384", "RS384", "ES256", "RS256", "ES512", "RS512", "PS384")
LEEWAY_SECONDS = 60
MAX_LIFETIME_SECONDS = 3600  # a CDS client JWT is per call; refuse long-lived ones that widen replay windows
JWKS_TTL_SECONDS = 300


class ClientAuthError(Exception):
    """The request's JWT is missing or wrong: answer 401 with this (non-sensitive) reason."""


class ConfigError(ValueError):
    """The CDS clients file is malformed."""


@dataclass
class CdsClient:
    iss: str
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    _cache: TtlCache[str, KeySet] = field(default_factory=lambda: TtlCache(JWKS_TTL_SECONDS), repr=False)

    def key_set(self, fetch: Callable[[str], Mapping[str, Any]], *, refresh: bool = False) -> KeySet:
        if self.jwks is not None:
            return KeySet.import_key_set(self.jwks)  # type: ignore[arg-type]
        assert self.jwks_url is not None
        hit = None if refresh else self._cache.get(self.jwks_url)
        if hit is not None:
            return hit
        keys = KeySet.import_key_set(dict(fetch(self.jwks_url)))  # type: ignore[arg-type]
        return self._cache.put(self.jwks_url, keys)


def load_clients(path: str | Path) -> dict[str, CdsClient]:
    """Read the allowlist: ``[[client]]`` tables with ``iss`` and ``jwks_url`` or inline ``jwks``."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    clients: dict[str, CdsClient] = {}
    for i, raw in enumerate(data.get("client") or []):
        where = f"{path}: client[{i}]"
        iss = raw.get("iss")
        if not isinstance(iss, str) or not iss:
            raise ConfigError(f"{where}: iss is required")
        url, inline = raw.get("jwks_url"), raw.get("jwks")
        if (url is None) == (inline is None):
            raise ConfigError(f"{where}: give exactly one of jwks_url or jwks")
        if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))):
            raise ConfigError(f"{where}: jwks_url must be an http(s) URL")
        if inline is not None and not isinstance(inline, dict):
            raise ConfigError(f"{where}: jwks must be a table holding keys")
        algs = tuple(raw.get("algorithms") or DEFAULT_ALGORITHMS)
        bad = [a for a in algs if a not in ASYMMETRIC]
        if bad:
            raise ConfigError(f"{where}: algorithms {bad} are not allowed (asymmetric signatures only)")
        if inline is not None:
            _check_public(inline, where)
        clients[iss] = CdsClient(iss=iss, jwks_url=url, jwks=inline, algorithms=algs)
    if not clients:
        raise ConfigError(f"{path}: no [[client]] entries")
    return clients


def _check_public(jwks: Mapping[str, Any], where: str) -> None:
    for key in jwks.get("keys") or []:
        if not isinstance(key, Mapping) or key.get("kty") == "oct":
            raise ConfigError(f"{where}: symmetric (oct) or malformed keys are not allowed")
        if "d" in key:
            raise ConfigError(f"{where}: jwks holds a private key; configure the public key only")
    try:
        KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: jwks is not a valid JWK Set: {exc}") from exc


def http_jwks(url: str) -> Mapping[str, Any]:
    resp = requests.get(url, timeout=(3.05, 5.0), headers={"Accept": "application/json"})
    resp.raise_for_status()
    body = resp.json()
    if not isinstance(body, dict):
        raise ClientAuthError("the client's JWKS is not a JSON object")
    return body


@dataclass
class Verifier:
    """Verifies one request's JWT. ``seen_jti(iss, jti, exp)`` returns True if the jti was used before."""

    clients: Mapping[str, CdsClient]
    seen_jti: Callable[[str, str, int], bool]
    fetch: Callable[[str], Mapping[str, Any]] = http_jwks
    now: Callable[[], float] = time.time

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The verified claims, or ClientAuthError."""
        if not authorization or not authorization.startswith("Bearer "):
            raise ClientAuthError("a Bearer JWT is required")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            compact = extract_compact(token.encode("ascii"))
            header, unverified = compact.protected, json.loads(compact.payload)
        except (JoseError, ValueError, UnicodeError) as exc:
            raise ClientAuthError("malformed JWT") from exc
        alg = header.get("alg")
        if alg not in ASYMMETRIC:
            raise ClientAuthError(f"alg {alg!r} is not allowed: sign with ES384 or RS384")
        # The unverified iss only picks whose keys to verify with; all claims are re-read once verified.
        iss = unverified.get("iss") if isinstance(unverified, dict) else None
        client = self.clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise ClientAuthError("unknown issuer")
        if alg not in client.algorithms:
            raise ClientAuthError(f"alg {alg!r} is not allowed for this issuer")
        if header.get("jku") and header.get("jku") != client.jwks_url:
            raise ClientAuthError("jku is not the issuer's registered JWKS URL")
        claims = self._verified_claims(token, client, alg)
        self._check_claims(claims, client, audience)
        if self.seen_jti(client.iss, str(claims["jti"]), int(claims["exp"])):
            raise ClientAuthError("jti was already used")
        return claims

    def _verified_claims(self, token: str, client: CdsClient, alg: str) -> dict[str, Any]:
        for refresh in (False, True):
            try:
                keys = client.key_set(self.fetch, refresh=refresh)
            except (requests.RequestException, JoseError, ValueError) as exc:
                raise ClientAuthError("the issuer's JWKS could not be read") from exc
            try:
                return dict(jwt.decode(token, keys, algorithms=[alg]).claims)
            except JoseError as exc:
                unknown_kid = isinstance(exc, InvalidKeyIdError)
                if refresh or not unknown_kid or client.jwks is not None:
                    raise ClientAuthError("signature verification failed") from exc
        raise ClientAuthError("signature verification failed")

    def _check_claims(self, claims: Mapping[str, Any], client: CdsClient, audience: str) -> None:
        now = int(self.now())
        for name in ("iss", "aud", "exp", "iat", "jti"):
            if claims.get(name) in (None, "", []):
                raise ClientAuthError(f"claim {name} is required")
        if claims["iss"] != client.iss:
            raise ClientAuthError("iss does not match")
        aud = claims["aud"]
        auds = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
        if audience not in auds:
            raise ClientAuthError("aud is not this endpoint's URL")
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int | float) or not isinstance(iat, int | float) or isinstance(exp, bool):
            raise ClientAuthError("exp and iat must be numbers")
        if exp <= now - LEEWAY_SECONDS:
            raise ClientAuthError("the JWT has expired")
        if iat > now + LEEWAY_SECONDS:
            raise ClientAuthError("the JWT was issued in the future")
        if exp - iat > MAX_LIFETIME_SECONDS:
            raise ClientAuthError("the JWT lives too long")
        if not isinstance(claims["jti"], str) or len(claims["jti"]) > 256:
            raise ClientAuthError("jti must be a string of at most 256 characters")
