"""Bulk Data export jobs of the sandbox (FHIR Bulk Data Access IG v2), independent of Flask.

A kick-off selects the data at once (the sandbox is small) and keeps the NDJSON in memory; the status URL then
answers "in progress" a configured number of times before the manifest, so clients meet real polling. A job
belongs to the client that started it: only that client may poll it, download its files or delete it.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox_ehr.outcome import FhirProblem
from sandbox_ehr.scopes import Access, Forbidden
from sandbox_ehr.searchparams import PATIENT_LINK, SUPPORTED_TYPES
from sandbox_ehr.store import FhirStore

OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
SUPPORTING_TYPES = ("Practitioner", "PractitionerRole", "Organization")
#: What a Patient- or Group-level export holds without ``_type``: the compartment plus who took part.
DEFAULT_TYPES = ("Patient", *PATIENT_LINK, *SUPPORTING_TYPES)


@dataclass
class ExportFile:
    type: str
    name: str
    lines: list[str]


@dataclass
class ExportJob:
    id: str
    client_id: str | None
    request: str
    transaction_time: str
    files: list[ExportFile]
    errors: list[ExportFile]
    polls_left: int

    def manifest(self, files_base: str) -> dict[str, Any]:
        def entry(f: ExportFile) -> dict[str, Any]:
            return {"type": f.type, "url": f"{files_base}/{self.id}/{f.name}", "count": len(f.lines)}

        return {
            "transactionTime": self.transaction_time,
            "request": self.request,
            "requiresAccessToken": True,
            "output": [entry(f) for f in self.files],
            "error": [entry(f) for f in self.errors],
        }

    def file(self, name: str) -> ExportFile | None:
        return next((f for f in (*self.files, *self.errors) if f.name == name), None)


@dataclass(frozen=True)
class ExportRequest:
    """A validated kick-off: which types, since when, and whose data (None: every patient)."""

    types: tuple[str, ...]
    since: str | None
    patients: frozenset[str] | None
    missing_members: tuple[str, ...] = ()


class ExportJobs:
    """The jobs in flight, keyed by an unguessable id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, ExportJob] = {}

    def start(
        self, store: FhirStore, req: ExportRequest, *, client_id: str | None, request_url: str, polls: int,
        per_file: int,
    ) -> ExportJob:  # fmt: skip
        files, errors = [], []
        for rtype in req.types:
            rows = store.scan(rtype, since=req.since)
            keep = [body for body, owner in rows if _wanted(rtype, owner, req.patients)]
            for n, start in enumerate(range(0, len(keep), max(1, per_file))):
                name = f"{rtype}.ndjson" if n == 0 else f"{rtype}.{n + 1}.ndjson"
                files.append(ExportFile(rtype, name, keep[start : start + per_file]))
        if req.missing_members:
            errors.append(
                ExportFile("OperationOutcome", "errors.ndjson", [_outcome(m) for m in req.missing_members])
            )
        job = ExportJob(secrets.token_urlsafe(16), client_id, request_url, _now(), files, errors, polls)
        with self._lock:
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str, client_id: str | None) -> ExportJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.client_id != client_id:
            raise FhirProblem(404, "not-found", "no such export job (finished and deleted, or never started)")
        return job

    def delete(self, job_id: str, client_id: str | None) -> None:
        self.get(job_id, client_id)
        with self._lock:
            self._jobs.pop(job_id, None)

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)


def export_request(
    store: FhirStore, access: Access, params: list[tuple[str, str]], *, group: str | None, lenient: bool
) -> ExportRequest:
    """Validate the kick-off parameters against the IG and the caller's scopes (400 / 403 / 404)."""
    types: tuple[str, ...] | None = None
    since = None
    for key, value in params:
        if key == "_outputFormat":
            if value not in OUTPUT_FORMATS:
                raise FhirProblem(400, "not-supported", f"_outputFormat {value} is not supported: use ndjson")
        elif key == "_type":
            types = tuple(t.strip() for t in value.split(",") if t.strip())
            unknown = [t for t in types if t not in SUPPORTED_TYPES]
            if unknown:
                raise FhirProblem(
                    400, "not-supported", f"_type: unsupported resource type(s) {', '.join(unknown)}"
                )
        elif key == "_since":
            since = _instant(value)
        elif not lenient:
            raise FhirProblem(400, "not-supported", f"export parameter {key} is not supported by this server")
    wanted = types or DEFAULT_TYPES
    allowed = tuple(t for t in wanted if may_read(access, t))
    if types and len(allowed) < len(types):
        refused = [t for t in types if t not in allowed]
        raise FhirProblem(
            403, "forbidden", f"insufficient scope for {', '.join(refused)}: grant system/<Type>.rs"
        )
    if not allowed:
        raise FhirProblem(
            403, "forbidden", "insufficient scope: a bulk export needs system/ (or user/) read scopes"
        )
    if group is None:
        return ExportRequest(allowed, since, None)
    members, missing = _members(store, group)
    return ExportRequest(allowed, since, frozenset(members), tuple(missing))


def may_read(access: Access, rtype: str) -> bool:
    """Bulk data is for system (or user) level access; a patient-scoped launch token may not export."""
    try:
        return access.check(rtype, "r") is None
    except Forbidden:
        return False


def _members(store: FhirStore, group_id: str) -> tuple[list[str], list[str]]:
    resource = store.read("Group", group_id)
    if resource is None:
        raise FhirProblem(404, "not-found", f"Group/{group_id} is not known")
    refs = [
        m.get("entity", {}).get("reference", "") for m in resource.get("member", []) if not m.get("inactive")
    ]
    ids = [r.split("/", 1)[1] for r in refs if r.startswith("Patient/")]
    present = [i for i in ids if store.read("Patient", i) is not None]
    return present, [i for i in ids if i not in present]


def _wanted(rtype: str, owner: str | None, patients: frozenset[str] | None) -> bool:
    if patients is None or rtype in SUPPORTING_TYPES or (rtype not in PATIENT_LINK and rtype != "Patient"):
        return True
    return owner in patients


def _instant(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FhirProblem(400, "invalid", f"_since must be a FHIR instant, not {value!r}") from None
    if moment.tzinfo is None:
        raise FhirProblem(400, "invalid", "_since needs a time zone (e.g. 2026-03-01T00:00:00Z)")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _outcome(member: str) -> str:
    issue = {
        "severity": "error",
        "code": "not-found",
        "diagnostics": f"Group member Patient/{member} is not known",
    }
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]})
