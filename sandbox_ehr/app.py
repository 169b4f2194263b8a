"""The sandbox EHR as one Flask app: FHIR API (``/fhir``), authorization server (``/auth``), launcher (``/``)
and the fault admin (``/_sandbox``)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, request
from joserfc.jwk import RSAKey
from werkzeug.exceptions import HTTPException

from sandbox_ehr import admin, auth_views, bulk_api, cds_panel, chart, fhir_api, launcher
from sandbox_ehr.bulk_jobs import ExportJobs
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.directory import human_name
from sandbox_ehr.faults import FaultRegistry, drop_connection
from sandbox_ehr.keys import load_or_generate
from sandbox_ehr.oauth_server import SandboxAuthServer, make_protector
from sandbox_ehr.outcome import operation_outcome
from sandbox_ehr.rest import FhirRest
from sandbox_ehr.seeding import load_seed
from sandbox_ehr.store import FhirStore
from sandbox_ehr.tokens import TokenStore

#: The sandbox's pages run no script at all; they may frame any app (that is their job).
HTML_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-src http: https:; object-src 'none'; "
    "base-uri 'none'"
)


@dataclass
class SandboxState:
    """Everything the blueprints share (``current_app.extensions["sandbox"]``)."""

    config: SandboxConfig
    store: FhirStore
    rest: FhirRest
    signing_key: RSAKey
    tokens: TokenStore = field(default_factory=TokenStore)
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    ehr_sessions: dict[str, Any] = field(default_factory=dict)
    cds_panels: dict[str, Any] = field(default_factory=dict)  # the launcher's CDS panel results
    exports: ExportJobs = field(default_factory=ExportJobs)  # Bulk Data export jobs in flight
    auth_server: Any = None
    protector: Any = None

    def practitioner_name(self, practitioner_id: str) -> str:
        return human_name(self.store.read("Practitioner", practitioner_id))

    def reset(self) -> None:
        """Back to the seeded data, no tokens, no faults (tests call this between cases)."""
        self.store.reset()
        self.faults.clear()
        self.tokens = TokenStore()
        self.ehr_sessions.clear()
        self.cds_panels.clear()
        self.exports.clear()


def create_sandbox_app(config: SandboxConfig) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key or secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME="sandbox_ehr_session",  # the app may share the host name; never clash
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        JSON_SORT_KEYS=False,
    )
    store = FhirStore(config.database)
    if config.seed and store.count() == 0:
        load_seed(store, FhirRest(store, config.fhir_base), month=config.seed_month)
    store.snapshot()
    rest = FhirRest(store, config.fhir_base, oracle_chargeitem=config.oracle_chargeitem)
    state = SandboxState(config, store, rest, load_or_generate(config.signing_key_pem))
    app.extensions["sandbox"] = state
    state.auth_server = SandboxAuthServer(app, state)
    state.protector = make_protector(state)
    for bp in (bulk_api.bp, fhir_api.bp, auth_views.bp, launcher.bp, cds_panel.bp, chart.bp, admin.bp):
        app.register_blueprint(bp)
    app.after_request(_after_request)
    app.register_error_handler(404, _fhir_errors)
    app.register_error_handler(405, _fhir_errors)
    return app


def _after_request(response: Response) -> Response:
    if g.get("drop_after_commit") and response.status_code < 400:
        drop_connection(request.environ)
    if response.mimetype == "text/html":
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy", HTML_CSP)
    return response


def _fhir_errors(error: HTTPException) -> Response | HTTPException:
    """Unknown routes and methods under /fhir answer with an OperationOutcome, like the rest of the API."""
    if not request.path.startswith("/fhir"):
        return error
    code = error.code or 500
    body = json.dumps(operation_outcome("not-supported", f"{request.method} {request.path}: {error.name}"))
    return Response(body, status=code, content_type="application/fhir+json; charset=utf-8")
