"""FHIR Bulk Data export endpoints (Bulk Data Access IG v2) under ``/fhir``: kick-off at the system, Patient
and Group levels, the status URL (poll, DELETE to cancel or clean up) and the NDJSON files, which need the
same bearer token as the kick-off (``requiresAccessToken``) and the scope for their resource type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, g, request

from sandbox_ehr import fhir_api
from sandbox_ehr.bulk_jobs import ExportJob, export_request, may_read
from sandbox_ehr.outcome import FhirProblem
from sandbox_ehr.rest import Result, problem_result

if TYPE_CHECKING:
    from sandbox_ehr.app import SandboxState

NDJSON = "application/fhir+ndjson"
bp = Blueprint("bulk", __name__, url_prefix="/fhir")
bp.before_request(fhir_api.authorize_and_inject_faults)


def state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _problem(problem: FhirProblem) -> Response:
    return fhir_api.fhir_response(problem_result(problem))


@bp.get("/$export")
@bp.get("/Patient/$export")
@bp.get("/Group/<group_id>/$export")
def kick_off(group_id: str | None = None) -> Response:
    st = state()
    try:
        if not st.config.bulk_export:
            raise FhirProblem(404, "not-supported", "this server offers no $export (use paged search)")
        prefer = request.headers.get("Prefer", "")
        if "respond-async" not in prefer:
            raise FhirProblem(400, "invalid", "a bulk export needs the header 'Prefer: respond-async'")
        accept = request.headers.get("Accept", "application/fhir+json")
        if not any(a in accept for a in ("application/fhir+json", "*/*")):
            raise FhirProblem(
                400, "not-supported", "a bulk export kick-off needs 'Accept: application/fhir+json'"
            )
        req = export_request(
            st.store, g.access, list(request.args.items(multi=True)), group=group_id,
            lenient="handling=lenient" in prefer,
        )  # fmt: skip
    except FhirProblem as problem:
        return _problem(problem)
    job = st.exports.start(
        st.store, req, client_id=g.access.client_id, request_url=request.url,
        polls=st.config.export_polls, per_file=st.config.export_file_resources,
    )  # fmt: skip
    return Response(
        status=202, headers={"Content-Location": f"{st.config.fhir_base}/$export-status/{job.id}"}
    )


@bp.get("/$export-status/<job_id>")
def status(job_id: str) -> Response:
    st = state()
    try:
        job = st.exports.get(job_id, g.access.client_id)
    except FhirProblem as problem:
        return _problem(problem)
    if job.polls_left > 0:
        done = st.config.export_polls - job.polls_left
        job.polls_left -= 1
        percent = 100 * done // st.config.export_polls
        headers = {"X-Progress": f"{percent}% (step {done + 1} of {st.config.export_polls})",
                   "Retry-After": str(st.config.export_retry_after)}  # fmt: skip
        return Response(status=202, headers=headers)
    return _manifest(st, job)


def _manifest(st: SandboxState, job: ExportJob) -> Response:
    expires = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    body = job.manifest(f"{st.config.fhir_base}/$export-file")
    resp = fhir_api.fhir_response(Result(200, body, {"Expires": expires}))
    resp.content_type = "application/json"
    return resp


@bp.delete("/$export-status/<job_id>")
def delete(job_id: str) -> Response:
    try:
        state().exports.delete(job_id, g.access.client_id)
    except FhirProblem as problem:
        return _problem(problem)
    return Response(status=202)


@bp.get("/$export-file/<job_id>/<name>")
def download(job_id: str, name: str) -> Response:
    try:
        job = state().exports.get(job_id, g.access.client_id)
        file = job.file(name)
        if file is None:
            raise FhirProblem(404, "not-found", f"the export has no file {name}")
        if file.type != "OperationOutcome" and not may_read(g.access, file.type):
            raise FhirProblem(
                403, "forbidden", f"insufficient scope for {file.type}: grant system/{file.type}.rs"
            )
    except FhirProblem as problem:
        return _problem(problem)
    body = "".join(line + "\n" for line in file.lines)
    return Response(body, status=200, content_type=NDJSON)
