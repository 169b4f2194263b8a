"""Blueprint ``cds_hooks``: discovery, the three services and their feedback endpoints (CDS Hooks 2.0).

Routes: ``GET /cds-services``, ``POST /cds-services/<id>``, ``POST /cds-services/<id>/feedback``; each also
answers the CORS preflight. Requests are authenticated by the CDS client's JWT when ``SMART_EDU_CDS_CLIENTS``
is configured (``auth.py``), never by cookies, so no CSRF token applies. Nothing here logs a request body: it
holds ``fhirAuthorization.access_token`` and patient data.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.blueprints import BlueprintSetupState

from smart_app import bounded_json
from smart_app.bounded_json import JsonInputError
from smart_app.cds_hooks import store
from smart_app.cds_hooks.auth import ClientAuthError, Verifier, load_clients
from smart_app.cds_hooks.hooks import answer
from smart_app.cds_hooks.reads import DataUnavailable
from smart_app.cds_hooks.services import BY_ID, discovery_document
from smart_app.config import current_settings, settings_of
from smart_app.logs import event
from smart_app.profiles import ProfileRegistry
from smart_app.store import Database

log = logging.getLogger(__name__)

bp = Blueprint("cds_hooks", __name__)

EXT_KEY = "smart_edu_cds"
CORS_MAX_AGE = "86400"


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Read the CDS settings once per app (flaskr style: nothing at import time)."""
    app = state.app
    path = settings_of(app).cds_clients
    origins = settings_of(app).cds_cors_origins
    settings: dict[str, Any] = {
        "verifier": None,
        "origins": [o for o in origins.replace(",", " ").split() if o],
    }
    if path:
        db = _db(app)
        settings["verifier"] = Verifier(
            clients=load_clients(path), seen_jti=lambda iss, jti, exp: store.jti_seen(db, iss, jti, exp)
        )
    app.extensions[EXT_KEY] = settings


def _db(app: Any) -> Database:
    db = app.extensions.get("smart_edu_db")
    if not isinstance(db, Database):
        raise RuntimeError("register cds_hooks after create_app has set up the store")
    return db


def _settings() -> dict[str, Any]:
    settings: dict[str, Any] = current_app.extensions[EXT_KEY]
    return settings


@bp.before_request
def _preflight_and_auth() -> Response | tuple[Response, int] | None:
    if request.method == "OPTIONS":
        return _cors(Response(status=204), preflight=True)
    verifier: Verifier | None = _settings()["verifier"]
    g.cds_client_iss = None
    if verifier is None:
        return None
    try:
        claims = verifier.verify(request.headers.get("Authorization"), endpoint_url())
    except ClientAuthError as exc:
        event(log, "cds.auth", level=logging.WARNING, outcome="refused", reason=str(exc))
        resp = _error(401, str(exc))
        resp[0].headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return resp
    g.cds_client_iss = claims.get("iss")
    return None


@bp.after_request
def _cors_headers(resp: Response) -> Response:
    return _cors(resp, preflight=False)


def _cors(resp: Response, *, preflight: bool) -> Response:
    """CORS for browser-based CDS clients: bearer JWTs, never cookies, so no credentials are allowed."""
    origins: list[str] = _settings()["origins"]
    origin = request.headers.get("Origin")
    if "*" in origins:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in origins:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers.add("Vary", "Origin")
    if preflight:
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Accept"
        resp.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return resp


def endpoint_url() -> str:
    """The exact URL of the endpoint called, as the client's JWT ``aud`` must name it."""
    base = current_settings().base_url
    if base:
        return str(base).rstrip("/") + request.path
    return request.base_url


def app_base_url() -> str:
    base = current_settings().base_url
    return str(base).rstrip("/") if base else request.host_url.rstrip("/")


@bp.route("/cds-services", methods=["GET", "OPTIONS"])
def discovery() -> Response:
    return jsonify(discovery_document())


@bp.route("/cds-services/<service_id>", methods=["POST", "OPTIONS"])
def call_service(service_id: str) -> Response | tuple[Response, int]:
    service = BY_ID.get(service_id)
    if service is None:
        return _error(404, "no such CDS service")
    try:
        body = _json_body()
    except JsonInputError as exc:
        return _refused(service.id, 413 if exc.too_large else 400, f"the body is {exc.message}")
    problem = _request_problem(body, service.hook)
    if problem:
        return _refused(service.id, 400, problem)
    assert isinstance(body, dict)
    readable, refused = _with_known_fhir_server(body)
    try:
        acknowledged = (
            store.acknowledged_at_signing(
                _db(current_app), str(body["context"]["patientId"]), str(body["context"]["encounterId"])
            )
            if service.hook == "encounter-discharge"
            else {}
        )
        result = answer(service, readable, base_url=app_base_url(), acknowledged=acknowledged)
    except DataUnavailable as exc:
        why = " (fhirServer is not the issuer of a launch profile, so it was not read)" if refused else ""
        return _refused(service.id, 412, f"{exc.reason}: {', '.join(exc.missing)}{why}")
    if result.issued:
        store.record_issued(_db(current_app), service.id, body, result.issued)
    prefetched = sorted(body["prefetch"]) if isinstance(body.get("prefetch"), dict) else []
    event(log, "cds.call", outcome="answered", service=service.id, cards=len(result.cards),
          prefetched=prefetched, fhir_server=readable.get("fhirServer") is not None)  # fmt: skip
    return jsonify({"cards": result.cards})


def _refused(service_id: str, status: int, message: str) -> tuple[Response, int]:
    """The refusal, logged with the same words the client gets (they never quote the body's values)."""
    event(log, "cds.call", level=logging.WARNING, outcome="refused", service=service_id, status=status,
          reason=message)  # fmt: skip
    return _error(status, message)


@bp.route("/cds-services/<service_id>/feedback", methods=["POST", "OPTIONS"])
def feedback(service_id: str) -> Response | tuple[Response, int]:
    if service_id not in BY_ID:
        return _error(404, "no such CDS service")
    try:
        items = store.parse_feedback(_json_body())
    except JsonInputError as exc:
        return _error(413 if exc.too_large else 400, f"the body is {exc.message}")
    except store.BadFeedback as exc:
        return _error(400, str(exc))
    new = store.record_feedback(_db(current_app), service_id, items, client_iss=g.get("cds_client_iss"))
    event(log, "cds.feedback", service=service_id, received=len(items), recorded=new)
    return jsonify({"received": len(items), "recorded": new})


def _with_known_fhir_server(body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The request as the hook may use it: ``fhirServer`` only if it is the issuer of a launch profile.

    The service sends ``fhirAuthorization``'s token to ``fhirServer`` from the app's own network, so an
    arbitrary URL would make it a proxy into that network (SSRF) and would accept data from any server.
    A known issuer is replaced by the profile's own spelling; an unknown one is dropped (True: refused)."""
    server = body.get("fhirServer")
    if server is None:
        return body, False
    profiles = current_app.extensions.get("smart_edu_profiles")
    profile = profiles.by_iss(server) if isinstance(profiles, ProfileRegistry) else None
    if profile is not None:
        return body | {"fhirServer": profile.iss}, False
    event(log, "cds.fhir-server", outcome="ignored", reason="not the issuer of a launch profile")
    return {k: v for k, v in body.items() if k not in ("fhirServer", "fhirAuthorization")}, True


def _json_body() -> Any:
    """The request's JSON, bounded in size (``SMART_EDU_MAX_CONTENT_LENGTH``) and nesting depth."""
    if not request.is_json:
        raise JsonInputError("not JSON (Content-Type must be application/json)")
    return bounded_json.request_json(request, max_bytes=current_settings().max_content_length)


def _request_problem(body: Any, hook: str) -> str | None:
    """What makes this body unusable, in words a CDS client can log; None when its envelope is sound.

    The envelope is typed here, so nothing past this point meets a number where an object belongs; the
    resources inside prefetch are read tolerantly (unknown or odd elements are ignored)."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if body.get("hook") != hook:
        return f"this service answers the {hook} hook"
    if not isinstance(body.get("hookInstance"), str) or not body["hookInstance"]:
        return "hookInstance is required (a string)"
    context = body.get("context")
    if not isinstance(context, dict):
        return "context must be a JSON object"
    for key in ("patientId", "encounterId", "userId"):
        if context.get(key) is not None and not isinstance(context[key], str):
            return f"context.{key} must be a string"
    if not context.get("patientId"):
        return "context.patientId is required"
    if hook != "patient-view" and not context.get("encounterId"):
        return "context.encounterId is required for this hook"
    return _server_problem(body) or _prefetch_problem(body.get("prefetch"))


def _server_problem(body: dict[str, Any]) -> str | None:
    server, auth = body.get("fhirServer"), body.get("fhirAuthorization")
    if server is not None and not isinstance(server, str):
        return "fhirServer must be a string (a URL)"
    if auth is None:
        return None
    if not isinstance(auth, dict) or not isinstance(auth.get("access_token"), str):
        return "fhirAuthorization must be an object with an access_token string"
    if server is None:
        return "fhirServer is required with fhirAuthorization"
    return None


def _prefetch_problem(prefetch: Any) -> str | None:
    """Each prefetch value is null, a resource or a Bundle whose ``entry`` is a list of objects."""
    if prefetch is None:
        return None
    if not isinstance(prefetch, dict):
        return "prefetch must be an object"
    for key, value in prefetch.items():
        if value is None:
            continue
        if not isinstance(value, dict):
            return f"prefetch.{key} must be a FHIR resource (an object) or null"
        if value.get("resourceType") != "Bundle":
            continue
        entries = value.get("entry")
        if entries is None:
            continue
        if not isinstance(entries, list):
            return f"prefetch.{key}.entry must be a list"
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                return f"prefetch.{key}.entry[{i}] must be an object"
            if entry.get("resource") is not None and not isinstance(entry["resource"], dict):
                return f"prefetch.{key}.entry[{i}].resource must be an object"
    return None


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status
