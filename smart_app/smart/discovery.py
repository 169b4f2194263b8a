"""SMART endpoint discovery (smart-fhir.md §1.4): the well-known document, else the CapabilityStatement.

Cached per issuer with a time limit, because every launch needs it and EHRs rotate endpoints rarely. Profile
``[discovery]`` overrides win over what the server says (Epic per-client endpoints, servers without a
well-known document). Endpoints must stay on https unless the issuer itself is plain http (loopback demos),
and on the profile's own origins (``Profile.trusted_origins``): a discovery document that points the token
endpoint at another host would otherwise receive the code, the client secret or the signed assertion.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from smart_app.origins import is_allowed
from smart_app.profiles import Profile
from smart_app.smart.errors import DiscoveryError
from smart_app.ttl_cache import TtlCache

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
DEFAULT_TIMEOUT = (3.05, 10.0)


@dataclass(frozen=True)
class SmartEndpoints:
    token_endpoint: str
    authorization_endpoint: str | None = None
    jwks_uri: str | None = None
    issuer: str | None = None
    code_challenge_methods: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    source: str = "well-known"

    @property
    def supports_s256(self) -> bool:
        return "S256" in self.code_challenge_methods


class Discovery:
    """Fetches and caches endpoints per issuer."""

    def __init__(
        self,
        http: requests.Session,
        *,
        ttl: float = 3600.0,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.ttl = ttl
        self.timeout = timeout
        self._cache: TtlCache[str, SmartEndpoints] = TtlCache(ttl, clock=clock)

    def endpoints(self, profile: Profile) -> SmartEndpoints:
        hit = self._cache.get(profile.iss)
        if hit is not None:
            return hit
        found = self._apply_overrides(profile, self._fetch(profile))
        _check_scheme(profile.iss, found)
        _check_origins(profile, found)
        return self._cache.put(profile.iss, found)

    def _fetch(self, profile: Profile) -> SmartEndpoints | None:
        try:
            return self._well_known(profile.iss)
        except DiscoveryError:
            pass
        try:
            return self._capability_statement(profile)
        except DiscoveryError:
            if profile.discovery.get("token_endpoint"):
                return None
            raise

    def _well_known(self, iss: str) -> SmartEndpoints:
        body = self._get_json(f"{iss}/.well-known/smart-configuration", {"Accept": "application/json"})
        token = body.get("token_endpoint")
        if not isinstance(token, str) or not token:
            raise DiscoveryError("the smart-configuration document has no token_endpoint")
        base = iss + "/"
        return SmartEndpoints(
            token_endpoint=urljoin(base, token),
            authorization_endpoint=_abs(base, body.get("authorization_endpoint")),
            jwks_uri=_abs(base, body.get("jwks_uri")),
            issuer=body.get("issuer") if isinstance(body.get("issuer"), str) else None,
            code_challenge_methods=tuple(str(m) for m in body.get("code_challenge_methods_supported") or []),
            capabilities=tuple(str(c) for c in body.get("capabilities") or []),
            source="well-known",
        )

    def _capability_statement(self, profile: Profile) -> SmartEndpoints:
        headers = {"Accept": "application/fhir+json", **profile.fhir_headers}
        body = self._get_json(f"{profile.iss}/metadata", headers)
        uris = oauth_uris(body)
        if not uris.get("token"):
            raise DiscoveryError(
                f"{urlsplit(profile.iss).netloc} publishes neither a smart-configuration document "
                "nor OAuth endpoints in its CapabilityStatement"
            )
        base = profile.iss + "/"
        return SmartEndpoints(
            token_endpoint=urljoin(base, uris["token"]),
            authorization_endpoint=_abs(base, uris.get("authorize")),
            source="capabilitystatement",
        )

    def _get_json(self, url: str, headers: Mapping[str, str]) -> dict[str, Any]:
        try:
            resp = self.http.get(url, headers=dict(headers), timeout=self.timeout)
        except requests.RequestException as exc:
            raise DiscoveryError(f"no answer from {urlsplit(url).netloc} ({type(exc).__name__})") from exc
        if resp.status_code != 200:
            raise DiscoveryError(f"{url} answered HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise DiscoveryError(f"{url} did not answer with JSON") from exc
        if not isinstance(body, dict):
            raise DiscoveryError(f"{url} did not answer with a JSON object")
        return body

    @staticmethod
    def _apply_overrides(profile: Profile, found: SmartEndpoints | None) -> SmartEndpoints:
        o = profile.discovery
        if found is None:
            found = SmartEndpoints(token_endpoint=o["token_endpoint"], source="profile")
        return replace(
            found,
            token_endpoint=o.get("token_endpoint", found.token_endpoint),
            authorization_endpoint=o.get("authorization_endpoint", found.authorization_endpoint),
            jwks_uri=o.get("jwks_uri", found.jwks_uri),
            issuer=o.get("issuer", found.issuer),
        )


def oauth_uris(capability_statement: Mapping[str, Any]) -> dict[str, str]:
    """The sub-extensions (authorize, token, ...) of the SMART ``oauth-uris`` security extension."""
    for rest in capability_statement.get("rest") or []:
        for ext in (rest.get("security") or {}).get("extension") or []:
            if ext.get("url") == OAUTH_URIS:
                return {
                    str(sub.get("url")): str(sub.get("valueUri"))
                    for sub in ext.get("extension") or []
                    if sub.get("url") and sub.get("valueUri")
                }
    return {}


def _abs(base: str, value: Any) -> str | None:
    return urljoin(base, value) if isinstance(value, str) and value else None


def _check_scheme(iss: str, found: SmartEndpoints) -> None:
    """Codes, secrets and tokens go only over TLS, except where the issuer itself is plain http (loopback)."""
    allowed = {"https"} if urlsplit(iss).scheme == "https" else {"https", "http"}
    for url in (found.token_endpoint, found.authorization_endpoint, found.jwks_uri):
        if url and urlsplit(url).scheme not in allowed:
            raise DiscoveryError(f"refusing a non-TLS endpoint for a TLS issuer: {url}")


def _check_origins(profile: Profile, found: SmartEndpoints) -> None:
    """Every endpoint the app will send secrets to or trust keys from lies on an origin the profile names."""
    named = {"token_endpoint": found.token_endpoint, "authorization_endpoint": found.authorization_endpoint,
             "jwks_uri": found.jwks_uri, "issuer": found.issuer}  # fmt: skip
    for key, url in named.items():
        if url and not is_allowed(url, profile.trusted_origins):
            raise DiscoveryError(
                f"refusing the {key} on {urlsplit(url).netloc}: not a host of profile {profile.name!r} "
                "(list it in auth_origins if the EHR really uses it)"
            )
