"""The sandbox as a CDS Hooks 2.0 client: discovery, a hook call with prefetch, and feedback.

Like a real EHR it calls the app's services server-side (the browser never sees the request, nor the FHIR
token it carries). Prefetch comes from the sandbox's own store by running each discovery template; with
``mode="fhir"`` the prefetch is left out and the service reads through ``fhirServer`` with a short-lived token
minted for the app's client (user-level read scopes on exactly the types the templates name).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from sandbox_ehr.scopes import Access
from sandbox_ehr.tokens import LaunchContext, TokenRecord

if TYPE_CHECKING:
    from sandbox_ehr.app import SandboxState

HOOKS = ("patient-view", "encounter-start", "encounter-discharge")
MODES = ("prefetch", "fhir")
TIMEOUT = (3.05, 20.0)
TOKEN_LIFETIME = 300
MAX_BODY = 1_000_000  # bytes of a service answer the panel reads at most
_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")


class CdsCallError(Exception):
    """The service could not be called or answered with something that is not a CDS Hooks response."""


@dataclass(frozen=True)
class HookCall:
    """Who and what one hook call is about (the launcher's choices)."""

    client_id: str
    practitioner: str
    patient: str
    encounter: str | None
    hook: str


def discover(url: str) -> list[dict[str, Any]]:
    """The services of a discovery endpoint (``GET {base}/cds-services``)."""
    body = _json(_send("GET", url))
    services = body.get("services") if isinstance(body, dict) else None
    if not isinstance(services, list):
        raise CdsCallError("the discovery answer has no 'services' list")
    return [s for s in services if isinstance(s, dict) and isinstance(s.get("id"), str)]


def service_for(services: list[dict[str, Any]], hook: str) -> dict[str, Any] | None:
    return next((s for s in services if s.get("hook") == hook), None)


def render_template(template: str, call: HookCall) -> str | None:
    """A prefetch template with its tokens replaced (URL-quoted); None when a token has no value here."""
    values = {
        "context.patientId": call.patient,
        "context.encounterId": call.encounter,
        "context.userId": f"Practitioner/{call.practitioner}",
        "userPractitionerId": call.practitioner,
    }
    missing = False

    def sub(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1))
        if not value:
            missing = True
            return ""
        return quote(value, safe="")

    out = _TOKEN.sub(sub, template)
    return None if missing else out


def prefetch(state: SandboxState, templates: dict[str, Any], call: HookCall) -> dict[str, Any]:
    """Run each template against the store; ``null`` where the resource does not exist (spec §prefetch)."""
    out: dict[str, Any] = {}
    for key, template in templates.items():
        path = render_template(str(template), call) if isinstance(template, str) else None
        if path is None:
            continue
        result = state.rest.execute(Access(open=True), "GET", path)
        if result.status == 200:
            out[key] = result.body
        elif result.status == 404:
            out[key] = None
    return out


def fhir_authorization(state: SandboxState, call: HookCall, templates: dict[str, Any]) -> dict[str, Any]:
    """A short-lived bearer token for the app's client, read-only, for the types the templates name."""
    types = sorted(
        {re.split(r"[/?]", str(t), maxsplit=1)[0] for t in templates.values() if isinstance(t, str)}
    )
    scope = " ".join(f"user/{t}.rs" for t in types if t)
    token = secrets.token_urlsafe(32)
    context = LaunchContext(call.practitioner, call.patient, call.encounter, call.client_id, True)
    state.tokens.save_token(
        TokenRecord(token, call.client_id, scope, context, TOKEN_LIFETIME, grant_type="cds-hooks")
    )
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "scope": scope,
        "subject": call.client_id,
    }


def hook_request(state: SandboxState, call: HookCall, service: dict[str, Any], mode: str) -> dict[str, Any]:
    """The JSON body of a hook call (docs/cds-hooks.md, "Calling the hooks")."""
    templates = service.get("prefetch") if isinstance(service.get("prefetch"), dict) else {}
    assert isinstance(templates, dict)
    context: dict[str, str] = {"userId": f"Practitioner/{call.practitioner}", "patientId": call.patient}
    if call.encounter:
        context["encounterId"] = call.encounter
    body: dict[str, Any] = {
        "hook": call.hook,
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": state.config.fhir_base,
        "fhirAuthorization": fhir_authorization(state, call, templates),
        "context": context,
    }
    if mode == "prefetch":
        body["prefetch"] = prefetch(state, templates, call)
    return body


def call_service(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST a hook request; the raw cards (validated for display by ``cds_cards``)."""
    answer = _json(_send("POST", url, body))
    cards = answer.get("cards") if isinstance(answer, dict) else None
    if not isinstance(cards, list):
        raise CdsCallError("the service's answer has no 'cards' list")
    return [c for c in cards if isinstance(c, dict)]


def send_feedback(url: str, card_uuid: str, reason: dict[str, Any] | None, comment: str) -> dict[str, Any]:
    """Report one card as overridden (dismissed), with the chosen reason and an optional comment."""
    entry: dict[str, Any] = {
        "card": card_uuid,
        "outcome": "overridden",
        "outcomeTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if reason:
        entry["overrideReason"] = {"reason": reason, **({"userComment": comment} if comment else {})}
    answer = _json(_send("POST", url, {"feedback": [entry]}))
    return answer if isinstance(answer, dict) else {}


def _send(method: str, url: str, body: dict[str, Any] | None = None) -> requests.Response:
    if not url.startswith(("http://", "https://")):
        raise CdsCallError("the CDS services URL is not http(s)")
    try:
        resp = requests.request(
            method, url, json=body, timeout=TIMEOUT, headers={"Accept": "application/json"}, stream=False
        )
    except requests.RequestException as exc:
        raise CdsCallError(f"no answer from the CDS service ({type(exc).__name__})") from exc
    if resp.status_code != 200:
        raise CdsCallError(f"the CDS service answered HTTP {resp.status_code}: {resp.text[:200]}")
    return resp


def _json(resp: requests.Response) -> Any:
    if len(resp.content) > MAX_BODY:
        raise CdsCallError("the CDS service's answer is too large")
    try:
        return resp.json()
    except ValueError as exc:
        raise CdsCallError("the CDS service's answer is not JSON") from exc
