"""The Bulk Data export flow (FHIR Bulk Data Access IG v2) over a FhirClient: kick-off, status polling that
honours ``Retry-After`` and reports ``X-Progress``, the manifest, and the job's DELETE.

The FhirClient brings what every request needs: the bearer token (renewed once on a 401), retries of
429/502/503/504 with ``Retry-After``, and its refusal to send the token to a URL outside the FHIR base (a
status URL elsewhere is refused, not followed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from smart_app.bulk.errors import BulkServerError, BulkTimeout
from smart_app.bulk.model import Progress
from smart_app.bulk.retry import retry_after_seconds
from smart_app.fhir_client import FHIR_JSON, FhirClient, FhirError

BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
EXPORT_DEFINITIONS = ("export", "patient-export", "group-export")
PERCENT = re.compile(r"(\d{1,3})(?:\.\d+)?\s*%")


def export_supported(capabilities: Mapping[str, Any], level: str) -> bool:
    """True when the CapabilityStatement offers ``$export`` at ``level`` (``Patient`` or ``Group``): an
    ``export`` operation on that resource or the server, or the Bulk Data CapabilityStatement instantiated."""
    if any(
        str(c).startswith(f"{BULK_DATA}/CapabilityStatement/bulk-data")
        for c in capabilities.get("instantiates") or []
    ):
        return True
    for rest in capabilities.get("rest") or []:
        ops = list(rest.get("operation") or [])
        ops += [
            op
            for res in rest.get("resource") or []
            if res.get("type") == level
            for op in res.get("operation") or []
        ]
        if any(_is_export(op) for op in ops):
            return True
    return False


def _is_export(op: Mapping[str, Any]) -> bool:
    return op.get("name") == "export" or (
        "OperationDefinition/" in str(op.get("definition", ""))
        and str(op.get("definition", "")).rstrip("/").split("/")[-1]
        in ("export", "patient-export", "group-export")
    )


class BulkExport:
    """One export job's life: ``kick_off`` → ``wait`` → (the caller downloads) → ``delete``."""

    def __init__(
        self,
        client: FhirClient,
        *,
        time_limit: float = 3600.0,
        progress: Callable[[Progress], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.time_limit = time_limit
        self.progress = progress or (lambda p: None)
        self.sleep = sleep
        self.clock = clock
        self.polls = 0

    def kick_off(self, path: str, params: Sequence[tuple[str, str]]) -> str:
        """Start the job; returns its status URL (``Content-Location``)."""
        headers = {"Accept": FHIR_JSON, "Prefer": "respond-async"}
        self.progress(Progress("kick-off", f"requesting {path}"))
        try:
            resp = self.client.request("GET", path, params=list(params), headers=headers)
        except FhirError as exc:
            raise BulkServerError(f"the export kick-off was refused: {exc.message}") from exc
        location = resp.headers.get("Content-Location")
        if resp.status != 202 or not location:
            raise BulkServerError(
                f"the export kick-off answered HTTP {resp.status} without a status URL (expected 202 and "
                "Content-Location)"
            )
        return location

    def wait(self, status_url: str) -> dict[str, Any]:
        """Poll until the manifest (200), honouring Retry-After; BulkTimeout past the time limit."""
        deadline = self.clock() + self.time_limit
        while True:
            self.polls += 1
            try:
                resp = self.client.request("GET", status_url, headers={"Accept": "application/json"})
            except FhirError as exc:
                raise BulkServerError(f"the export failed: {exc.message}") from exc
            if resp.status == 200:
                return _manifest(resp.body)
            if resp.status != 202:
                raise BulkServerError(f"the export status answered HTTP {resp.status}")
            progress = resp.headers.get("X-Progress", "in progress")
            self.progress(Progress("waiting", f"export {progress[:100]}", *_percent(progress)))
            delay = retry_after_seconds(resp.headers.get("Retry-After"), min(self.polls, 6))
            if self.clock() + delay > deadline:
                raise BulkTimeout(
                    f"the export did not complete within {self.time_limit:.0f} s ({self.polls} status polls)"
                )
            self.sleep(delay)

    def delete(self, status_url: str) -> bool:
        """Ask the server to delete the job and its files (best effort: the data is already on disk)."""
        try:
            self.client.request("DELETE", status_url, headers={"Accept": FHIR_JSON})
        except FhirError:
            return False
        return True


def _manifest(body: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("output"), list):
        raise BulkServerError("the completed export's manifest has no output list")
    for entry in [*body["output"], *(body.get("error") or [])]:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) or not entry.get("type"):
            raise BulkServerError("a manifest entry lacks its type or url")
    return body


def _percent(progress: str) -> tuple[int | None, int | None]:
    digits = (
        "".join(c if c.isdigit() else " " for c in progress.split("%")[0]).split() if "%" in progress else []
    )
    return (int(digits[-1]), 100) if digits else (None, None)
