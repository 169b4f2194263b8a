"""The FHIR REST endpoints under ``/fhir``: tokens checked with Authlib's ResourceProtector (or open mode),
faults applied, then the interaction handed to ``rest.FhirRest``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, g, request

from sandbox_ehr.bundles import process_bundle
from sandbox_ehr.capability import capability_statement
from sandbox_ehr.faults import FAULT_HEADER, apply_latency, error_fault, parse_fault_header
from sandbox_ehr.outcome import FhirProblem, operation_outcome
from sandbox_ehr.rest import Result, problem_result
from sandbox_ehr.scopes import Access

if TYPE_CHECKING:
    from sandbox_ehr.app import SandboxState

FHIR_JSON = "application/fhir+json; charset=utf-8"

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


def state() -> SandboxState:
    return current_app.extensions["sandbox"]


def fhir_response(result: Result) -> Response:
    body = "" if result.body is None else json.dumps(result.body)
    return Response(body, status=result.status, headers=result.headers, content_type=FHIR_JSON)


def resolve_access() -> Access:
    """Open mode, or the bearer token's scopes and launch patient; 401 (with OperationOutcome) otherwise."""
    st = state()
    if st.config.open_fhir:
        return Access(open=True)
    try:
        record = st.protector.validate_request(None, FlaskJsonRequest(request))
    except OAuth2Error as err:
        headers = dict(err.get_headers())
        detail = err.description or err.error or "a valid bearer token is required"
        raise FhirProblem(401, "login", f"unauthorized: {detail}", headers=headers) from None
    return Access(scope=record.scope, patient=record.context.patient, client_id=record.client_id)


@bp.before_request
def authorize_and_inject_faults() -> Response | None:
    if request.endpoint == "fhir.metadata":
        return None
    try:
        g.access = resolve_access()
        faults = state().faults.for_request(request.method, request.path, g.access.client_id)
        header = request.headers.get(FAULT_HEADER)
        if header and state().config.faults_enabled:
            faults.append(parse_fault_header(header))
    except FhirProblem as problem:
        return fhir_response(problem_result(problem))
    except ValueError as exc:
        return fhir_response(Result(400, operation_outcome("invalid", f"{FAULT_HEADER}: {exc}")))
    apply_latency(faults)
    failing = error_fault(faults)
    if failing and failing.status:
        headers = {"Retry-After": str(failing.retry_after)} if failing.retry_after is not None else {}
        body = operation_outcome("transient", f"injected fault {failing.id}: HTTP {failing.status}")
        return fhir_response(Result(failing.status, body, headers))
    g.drop_after_commit = any(f.drop_after_commit for f in faults)
    return None


def _body() -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise FhirProblem(400, "structure", "request body is not valid JSON") from None


def _headers() -> dict[str, str]:
    return {k: v for k in ("If-None-Exist", "If-Match", "Prefer") if (v := request.headers.get(k))}


@bp.get("/metadata")
def metadata() -> Response:
    cfg = state().config
    statement = capability_statement(
        cfg.fhir_base,
        None if cfg.open_fhir else cfg.auth_base,
        oracle_chargeitem=cfg.oracle_chargeitem,
        bulk_export=cfg.bulk_export,
    )
    return fhir_response(Result(200, statement))


@bp.post("/")
@bp.post("")
def bundle() -> Response:
    try:
        result = process_bundle(state().rest, g.access, _body())
    except FhirProblem as problem:
        result = problem_result(problem)
    return fhir_response(result)


@bp.route("/<rtype>", methods=["GET", "POST"])
@bp.route("/<rtype>/<rid>", methods=["GET", "PUT", "POST"])  # POST: type-level operations ($create)
@bp.get("/<rtype>/<rid>/_history/<vid>")
def interaction(rtype: str, rid: str | None = None, vid: str | None = None) -> Response:
    url = f"{rtype}/{rid}" if rid else rtype
    if vid:
        url += f"/_history/{vid}"
    if request.query_string:
        url += "?" + request.query_string.decode("utf-8")
    try:
        body = _body() if request.method in ("POST", "PUT") else None
    except FhirProblem as problem:
        return fhir_response(problem_result(problem))
    return fhir_response(state().rest.execute(g.access, request.method, url, body, _headers()))
