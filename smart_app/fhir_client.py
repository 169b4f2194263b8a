"""A small FHIR R4 REST client over ``requests``.

Why not a generic HTTP helper: FHIR servers signal errors with OperationOutcome, page with ``next`` links,
and throttle with 429 + ``Retry-After``. This client turns each of those into one behaviour, so callers (the
launch reads, write-back, ``sandbox-test``, CDS Hooks) never re-implement them. It knows nothing of Flask:
tokens come from an injected provider, and a 401 calls an injected refresher once.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests

from smart_app import bounded_json

FHIR_JSON = "application/fhir+json"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEFAULT_TIMEOUT = (3.05, 30.0)  # connect, read


class FhirError(Exception):
    """A FHIR interaction failed; ``message`` is the server's own words where it gave any."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        outcome: dict[str, Any] | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.outcome = outcome
        self.url = url

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRY_STATUSES or self.status >= 500


class FhirUnauthorized(FhirError):
    """401 that a refresh did not cure: the user must relaunch."""


class FhirForbidden(FhirError):
    """403: a scope or permission is missing."""


class FhirNotFound(FhirError):
    """404/410."""


class FhirPreconditionFailed(FhirError):
    """412: e.g. a conditional create matched more than one resource."""


class FhirTransportError(FhirError):
    """No HTTP answer at all (connection refused, timeout, dropped response): the outcome is unknown."""


@dataclass
class FhirResponse:
    status: int
    headers: Mapping[str, str]
    body: dict[str, Any] | None
    url: str

    @property
    def location(self) -> str | None:
        return self.headers.get("Location") or self.headers.get("Content-Location")


@dataclass
class FhirClient:
    """Talks to one FHIR base URL.

    ``token_provider`` returns the current access token (or None for open servers). ``refresher`` is called
    once after a 401; it returns True when a new token is available.
    """

    base_url: str
    token_provider: Callable[[], str | None] | None = None
    refresher: Callable[[], bool] | None = None
    session: requests.Session = field(default_factory=requests.Session)
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    max_retries: int = 3
    max_backoff: float = 10.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    _capabilities: dict[str, Any] | None = field(default=None, init=False, repr=False)
    requests_sent: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    # -- low level -------------------------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        absolute = path.startswith(("http://", "https://"))
        url = path if absolute else f"{self.base_url}/{path.lstrip('/')}"
        if not self.owns(url):  # relative paths too: an id like "../../admin" would climb out of the base
            raise FhirError(f"refusing to follow a reference to another server: {path}")
        return url

    def owns(self, url: str) -> bool:
        """True if an absolute URL lies under this client's base (tokens are never sent elsewhere)."""
        a, b = urlsplit(url), urlsplit(self.base_url + "/")
        if any(unquote(seg) in (".", "..") for seg in a.path.split("/")):
            return False  # requests resolves "/fhir/../admin" to "/admin": outside the base, token and all
        return (a.scheme, a.netloc) == (b.scheme, b.netloc) and (a.path + "/").startswith(b.path)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> FhirResponse:
        """Send one interaction; retries 429/502/503/504 (only idempotent ones unless ``retry`` says so)."""
        url = self.url_for(path)
        may_retry = retry if retry is not None else method.upper() in ("GET", "HEAD", "PUT", "DELETE")
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            hdrs = {"Accept": FHIR_JSON, **self.extra_headers, **(headers or {})}
            if json is not None:
                hdrs.setdefault("Content-Type", FHIR_JSON)
            token = self.token_provider() if self.token_provider else None
            if token:
                hdrs["Authorization"] = f"Bearer {token}"
            try:
                self.requests_sent += 1
                resp = self.session.request(
                    method, url, json=json, params=params, headers=hdrs, timeout=self.timeout
                )
            except requests.RequestException as exc:
                if may_retry and attempt <= self.max_retries:
                    self.sleep(min(self.max_backoff, 0.5 * 2 ** (attempt - 1)))
                    continue
                raise FhirTransportError(
                    f"no answer from {urlsplit(url).netloc}: {type(exc).__name__}", url=url
                ) from exc
            if resp.status_code == 401 and not refreshed and self.refresher is not None:
                refreshed = True
                if self.refresher():
                    continue
            if resp.status_code in RETRY_STATUSES and may_retry and attempt <= self.max_retries:
                self.sleep(self._retry_delay(resp, attempt))
                continue
            if resp.status_code >= 400:
                raise _error_for(resp, url)
            return FhirResponse(resp.status_code, resp.headers, _json_or_none(resp), resp.url or url)

    def _retry_delay(self, resp: requests.Response, attempt: int) -> float:
        header = resp.headers.get("Retry-After")
        if header:
            try:
                return min(self.max_backoff, max(0.0, float(header)))
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(header)
                if parsed is not None:
                    return min(self.max_backoff, max(0.0, parsed.timestamp() - time.time()))
        return min(self.max_backoff, 0.5 * 2 ** (attempt - 1))

    # -- interactions ----------------------------------------------------------------------------------------

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        body = self.request("GET", f"{resource_type}/{resource_id}").body
        if body is None:
            raise FhirError(f"{resource_type}/{resource_id}: empty response")
        return body

    def search(
        self, resource_type: str, params: Mapping[str, Any] | list[tuple[str, Any]], *, max_pages: int = 10
    ) -> list[dict[str, Any]]:
        """All matching resources, following ``next`` links up to ``max_pages``."""
        out: list[dict[str, Any]] = []
        for bundle in self.pages(self.request("GET", resource_type, params=params).body, max_pages=max_pages):
            out.extend(
                e["resource"] for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)
            )
        return out

    def pages(self, first: dict[str, Any] | None, *, max_pages: int = 10) -> Iterator[dict[str, Any]]:
        """Yield a searchset Bundle and its following pages (bounded; links to other servers are refused)."""
        bundle = first
        pages = 0
        while bundle is not None and pages < max_pages:
            yield bundle
            pages += 1
            nxt = next_link(bundle)
            if not nxt:
                return
            bundle = self.request("GET", urljoin(self.base_url + "/", nxt)).body

    def create(
        self,
        resource: dict[str, Any],
        *,
        if_none_exist: str | None = None,
        prefer_representation: bool = True,
    ) -> FhirResponse:
        headers = {"Prefer": "return=representation"} if prefer_representation else {}
        if if_none_exist:
            headers["If-None-Exist"] = if_none_exist
        return self.request("POST", resource["resourceType"], json=resource, headers=headers, retry=False)

    def operation(self, path: str, parameters: dict[str, Any]) -> FhirResponse:
        return self.request("POST", path, json=parameters, retry=False)

    def batch(self, entries: list[dict[str, Any]], *, kind: str = "batch") -> dict[str, Any]:
        """POST a batch/transaction Bundle of the given entries and return the response Bundle."""
        bundle = {"resourceType": "Bundle", "type": kind, "entry": entries}
        # A batch of reads is safe to repeat; a transaction is only safe when every entry is conditional,
        # which the caller decides (write-back passes kind="transaction" and handles retries itself).
        body = self.request("POST", "", json=bundle, retry=(kind == "batch")).body
        if not body or body.get("resourceType") != "Bundle":
            raise FhirError(f"{kind}: the server did not answer with a Bundle")
        return body

    def capabilities(self) -> dict[str, Any]:
        if self._capabilities is None:
            self._capabilities = self.request("GET", "metadata").body or {}
        return self._capabilities

    def held_capabilities(self) -> dict[str, Any] | None:
        """The CapabilityStatement this client already fetched, without a request (None if not yet)."""
        return self._capabilities

    def supports_system(self, interaction: str) -> bool:
        """True if the CapabilityStatement lists a system-level interaction (``batch``, ``transaction``)."""
        try:
            caps = self.capabilities()
        except FhirError:
            return False
        for rest in caps.get("rest") or []:
            if rest.get("mode", "server") != "server":
                continue
            if any(i.get("code") == interaction for i in rest.get("interaction") or []):
                return True
        return False

    def resource_capability(self, resource_type: str) -> dict[str, Any] | None:
        try:
            caps = self.capabilities()
        except FhirError:
            return None
        for rest in caps.get("rest") or []:
            for res in rest.get("resource") or []:
                if res.get("type") == resource_type:
                    return res
        return None


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def outcome_message(outcome: Mapping[str, Any] | None) -> str | None:
    """The human text of an OperationOutcome: diagnostics or details of its issues, joined."""
    if not outcome or outcome.get("resourceType") != "OperationOutcome":
        return None
    parts: list[str] = []
    for issue in outcome.get("issue") or []:
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
        if not text:
            codings = (issue.get("details") or {}).get("coding") or []
            text = next((c.get("display") or c.get("code") for c in codings if c), None)
        if text:
            where = ", ".join(issue.get("expression") or issue.get("location") or [])
            parts.append(f"{text} ({where})" if where else str(text))
        elif issue.get("code"):
            parts.append(str(issue["code"]))
    return "; ".join(parts) or None


def _json_or_none(resp: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None: empty, not JSON, or beyond the size and nesting limits
    (``bounded_json``), so a broken or hostile server's answer is "no usable body", never a RecursionError."""
    if not resp.content:
        return None
    try:
        body = bounded_json.loads(resp.content, max_bytes=bounded_json.MAX_FILE_BYTES)
    except bounded_json.JsonInputError:
        return None
    return body if isinstance(body, dict) else None


def _error_for(resp: requests.Response, url: str) -> FhirError:
    body = _json_or_none(resp)
    message = outcome_message(body) or (resp.text[:300].strip() if resp.text else "") or resp.reason
    text = f"HTTP {resp.status_code}: {message}"
    cls: type[FhirError] = FhirError
    if resp.status_code == 401:
        cls = FhirUnauthorized
    elif resp.status_code == 403:
        cls = FhirForbidden
    elif resp.status_code in (404, 410):
        cls = FhirNotFound
    elif resp.status_code == 412:
        cls = FhirPreconditionFailed
    return cls(text, status=resp.status_code, outcome=body, url=url)
