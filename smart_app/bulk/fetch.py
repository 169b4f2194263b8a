"""``fetch_to_directory``: a server's data for the scrub, on disk as NDJSON, by Bulk Data ``$export`` where
the server offers it and by paged search where it does not. See the package docstring for the contract."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import requests

from smart_app.bulk.errors import BulkConfigError, BulkServerError
from smart_app.bulk.export import BulkExport, export_supported
from smart_app.bulk.files import Downloader, file_name
from smart_app.bulk.model import EXPORT_TYPES, ExportedFile, ExportResult, Progress
from smart_app.bulk.search import search_to_directory
from smart_app.fhir_client import FhirClient, FhirError, outcome_message
from smart_app.profiles import Profile, normalize_iss
from smart_app.smart.backend import BackendTokenSource, system_scopes
from smart_app.smart.errors import ClientConfigError, SmartError

RECORD_DIR = "_export"  # the manifest and the error files: kept apart from the data files


def fetch_to_directory(
    fhir_base: str,
    profile: Profile | None,
    since: date | None,
    until: date | None,
    types: Sequence[str] | None,
    dest_dir: str | Path,
    progress: Callable[[Progress], None] | None = None,
    *,
    changed_since: datetime | None = None,
    http: requests.Session | None = None,
    time_limit: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ExportResult:
    """Fetch ``types`` (default ``EXPORT_TYPES``) from ``fhir_base`` into ``dest_dir`` (package doc)."""
    if since and until and since > until:
        raise BulkConfigError(f"the period starts ({since}) after it ends ({until})")
    dest = _prepare(Path(dest_dir))
    http = http or requests.Session()
    report = progress or (lambda p: None)
    tokens = _token_source(fhir_base, profile, types, http)
    client = FhirClient(
        fhir_base,
        token_provider=tokens.token if tokens else None,
        refresher=tokens.renew if tokens else None,
        session=http,
        extra_headers=dict(profile.fhir_headers) if profile else {},
        sleep=sleep,
    )
    try:
        capabilities = client.capabilities()
        wanted = _available(types or EXPORT_TYPES, capabilities)
        group = profile.backend.group_id if profile and profile.backend else None
        if export_supported(capabilities, "Group" if group else "Patient"):
            return _bulk(client, http, wanted, dest, group, changed_since, report, time_limit, sleep, clock)
        report(Progress("search", "the server offers no $export: reading by paged search"))
        return search_to_directory(client, wanted, dest, group_id=group, progress=report)
    except ClientConfigError as exc:
        raise BulkConfigError(exc.message) from exc
    except SmartError as exc:
        raise BulkServerError(exc.message) from exc
    except FhirError as exc:
        raise BulkServerError(f"{fhir_base}: {exc.message}") from exc


def _token_source(
    fhir_base: str, profile: Profile | None, types: Sequence[str] | None, http: requests.Session
) -> BackendTokenSource | None:
    if profile is None:
        return None  # an open server, as sandbox-test reads it
    if normalize_iss(fhir_base) != profile.iss:
        raise BulkConfigError(
            f"--fhir-base {fhir_base} is not the issuer of profile {profile.name!r} ({profile.iss}): its "
            "credentials are for that server only"
        )
    if profile.auth == "none":
        return None
    try:
        wanted = list(types or EXPORT_TYPES)
        if profile.backend and profile.backend.group_id:
            wanted.append("Group")  # the Group itself: its export, and its members for the paged search
        return BackendTokenSource(profile, system_scopes(wanted), http=http)
    except ClientConfigError as exc:
        raise BulkConfigError(exc.message) from exc


def _prepare(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.glob("*.ndjson")):
        raise BulkConfigError(f"{dest} already holds NDJSON files: give an empty folder")
    return dest


def _available(types: Sequence[str], capabilities: dict[str, Any]) -> list[str]:
    """The wanted types the server lists (all of them when its CapabilityStatement lists none)."""
    listed = {r.get("type") for rest in capabilities.get("rest") or [] for r in rest.get("resource") or []}
    return [t for t in types if not listed or t in listed]


def _bulk(
    client: FhirClient,
    http: requests.Session,
    types: Sequence[str],
    dest: Path,
    group: str | None,
    changed_since: datetime | None,
    report: Callable[[Progress], None],
    time_limit: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> ExportResult:
    export = BulkExport(client, time_limit=time_limit, progress=report, sleep=sleep, clock=clock)
    params = [("_type", ",".join(types)), ("_outputFormat", "application/fhir+ndjson")]
    if changed_since is not None:
        if changed_since.tzinfo is None:
            raise BulkConfigError("changed_since needs a time zone")
        params.append(("_since", changed_since.isoformat()))
    status_url = export.kick_off(f"Group/{group}/$export" if group else "Patient/$export", params)
    try:
        manifest = export.wait(status_url)
        downloader = Downloader(http, client.base_url, token=client.token_provider, renew=client.refresher,
                                sleep=sleep)  # fmt: skip
        return _download(manifest, downloader, dest, report)
    finally:
        export.delete(status_url)  # also on a failure, a time-out or Ctrl-C: the server's files go


def _download(
    manifest: dict[str, Any], downloader: Downloader, dest: Path, report: Callable[[Progress], None]
) -> ExportResult:
    result = ExportResult(dest, "bulk", transaction_time=manifest.get("transactionTime"),
                          request=manifest.get("request"))  # fmt: skip
    with_token = bool(manifest.get("requiresAccessToken", True))
    outputs = manifest["output"]
    seen: dict[str, int] = {}
    for i, entry in enumerate(outputs, 1):
        rtype = str(entry["type"])
        seen[rtype] = seen.get(rtype, 0) + 1
        path = dest / file_name(rtype, seen[rtype])
        report(Progress("download", f"downloading {path.name}", i - 1, len(outputs)))
        count = downloader.download(entry["url"], path, with_token=with_token)
        result.files.append(ExportedFile(rtype, path, count))
    record = dest / RECORD_DIR
    record.mkdir(exist_ok=True)
    (record / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    for n, entry in enumerate(manifest.get("error") or [], 1):
        path = record / f"errors.{n}.ndjson"
        downloader.download(entry["url"], path, with_token=with_token)
        result.errors += _outcome_texts(path)
    report(Progress("done", f"{sum(f.count for f in result.files)} resources in {len(result.files)} files",
                    len(outputs), len(outputs)))  # fmt: skip
    return result


def _outcome_texts(path: Path) -> list[str]:
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            outcome = json.loads(line)
        except ValueError:
            continue
        text = outcome_message(outcome) if isinstance(outcome, dict) else None
        if text:
            texts.append(text)
    return texts
