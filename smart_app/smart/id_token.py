"""id_token verification (OIDC Core §3.1.3.7, SMART scopes-and-launch-context "Steps for using an ID token").

``fhirUser`` decides whose role drives the billing rules, so it is trusted only after the signature, ``iss``,
``aud`` and ``exp`` check out against the authorization server's keys. Keys come from the well-known
``jwks_uri`` or from the OpenID configuration of the token's issuer, fetched only when that issuer lives on
the EHR's own host (an attacker's ``iss`` claim never makes the app fetch from elsewhere).
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from smart_app.smart.discovery import SmartEndpoints
from smart_app.smart.errors import IdTokenError
from smart_app.ttl_cache import TtlCache

ALGORITHMS = ("RS256", "RS384", "ES256", "ES384")
LEEWAY = 60
DEFAULT_TIMEOUT = (3.05, 10.0)


class JwksCache:
    """Per-URL JWKS cache; refetched once when a ``kid`` is unknown (key rotation)."""

    def __init__(
        self,
        http: requests.Session,
        *,
        ttl: float = 3600.0,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http, self.ttl, self.timeout = http, ttl, timeout
        self._cache: TtlCache[str, dict[str, Any]] = TtlCache(ttl, clock=clock)

    def get(self, url: str, *, kid: str | None = None) -> KeySet:
        hit = self._cache.get(url)
        if hit is not None and (kid is None or _has_kid(hit, kid)):
            return KeySet.import_key_set(hit)  # type: ignore[arg-type]
        body = self._cache.put(url, self.fetch_json(url))
        return KeySet.import_key_set(body)  # type: ignore[arg-type]

    def fetch_json(self, url: str) -> dict[str, Any]:
        try:
            resp = self.http.get(url, headers={"Accept": "application/json"}, timeout=self.timeout)
            resp.raise_for_status()
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise IdTokenError(f"could not fetch the signing keys from {urlsplit(url).netloc}") from exc
        if not isinstance(body, dict):
            raise IdTokenError("the signing-key document is not a JSON object")
        return body


def verify_id_token(
    id_token: str,
    *,
    client_id: str,
    fhir_base: str,
    endpoints: SmartEndpoints,
    jwks: JwksCache,
    nonce: str | None = None,
    now: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Return the verified claims, or raise IdTokenError saying which check failed.

    A ``nonce`` the app sent must come back unchanged; a token without one is accepted, because SMART does
    not require servers to echo it and the code arrives bound by state, PKCE and the browser cookie
    (docs/security.md).
    """
    unverified = _peek(id_token)
    issuer = endpoints.issuer or _trusted_issuer(unverified.get("iss"), fhir_base, endpoints)
    jwks_uri = endpoints.jwks_uri or _jwks_uri_from_openid(issuer, jwks)
    kid = _peek_kid(id_token)
    try:
        keys = jwks.get(jwks_uri, kid=kid)
        token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
    except JoseError as exc:
        raise IdTokenError(f"the id_token signature does not verify ({exc.error})") from exc
    except ValueError as exc:
        raise IdTokenError("the id_token could not be decoded") from exc
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},  # OIDC Core §2: required; a token without it cannot be judged for age
    )
    try:
        registry.validate(token.claims)
    except JoseError as exc:
        raise IdTokenError(f"the id_token was refused: {exc.description or exc.error}") from exc
    _check_nonce(token.claims.get("nonce"), nonce)
    return dict(token.claims)


def _check_nonce(claimed: Any, sent: str | None) -> None:
    if sent is None or claimed is None:
        return
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed.encode(), sent.encode()):
        raise IdTokenError("the id_token answers another sign-in (its nonce is not the one the app sent)")


def _peek(id_token: str) -> dict[str, Any]:
    """Read the claims without trusting them, only to learn which issuer to check against."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise IdTokenError("the id_token is not a JWT") from exc
    if not isinstance(claims, dict):
        raise IdTokenError("the id_token is not a JWT")
    return claims


def _peek_kid(id_token: str) -> str | None:
    try:
        head = id_token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (IndexError, ValueError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _trusted_issuer(claimed: Any, fhir_base: str, endpoints: SmartEndpoints) -> str:
    """Accept the token's own ``iss`` only on the FHIR server's or the token endpoint's origin."""
    if not isinstance(claimed, str) or not claimed:
        raise IdTokenError("the id_token names no issuer")
    allowed = {_origin(fhir_base), _origin(endpoints.token_endpoint)}
    if _origin(claimed) not in allowed:
        raise IdTokenError("the id_token comes from an issuer this EHR does not use")
    return claimed


def _jwks_uri_from_openid(issuer: str, jwks: JwksCache) -> str:
    config = jwks.fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    uri = config.get("jwks_uri")
    if not isinstance(uri, str) or _origin(uri) != _origin(issuer):
        raise IdTokenError("the OpenID configuration names no usable jwks_uri")
    return uri


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _has_kid(jwks: dict[str, Any], kid: str) -> bool:
    return any(k.get("kid") == kid for k in jwks.get("keys") or [] if isinstance(k, dict))
