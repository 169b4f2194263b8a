"""The fallback where a server offers no ``$export``: the same NDJSON layout from paged FHIR search.

Patients first (the Group's members, or every Patient), then each patient-linked type by ``patient=`` in
chunks, following ``next`` links only on the FHIR base (FhirClient refuses others); then the Practitioners,
PractitionerRoles and Organizations those resources reference, by ``_id`` (and the roles of the referenced
Practitioners, by ``practitioner=``). One file per type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from smart_app.bulk.errors import BulkServerError
from smart_app.bulk.files import file_name
from smart_app.bulk.model import ExportedFile, ExportResult, Progress
from smart_app.fhir_client import FhirClient, FhirError

SHARED_TYPES = ("Practitioner", "PractitionerRole", "Organization")
CHUNK = 50  # ids per search (a URL stays well under the usual 8 KB limit)
PAGE_SIZE = 200
MAX_PAGES = 10_000


def search_to_directory(
    client: FhirClient,
    types: Sequence[str],
    dest_dir: Path,
    *,
    group_id: str | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> ExportResult:
    report = progress or (lambda p: None)
    try:
        patients = _group_members(client, group_id) if group_id else None
        found: dict[str, dict[str, dict[str, Any]]] = {}
        if "Patient" in types or patients is None:
            everyone = (
                _ids_search(client, "Patient", "_id", patients)
                if patients is not None
                else _all(client, "Patient")
            )
            found["Patient"] = _by_id(everyone)
            patients = list(found["Patient"]) if patients is None else patients
        for rtype in (t for t in types if t not in SHARED_TYPES and t != "Patient"):
            report(Progress("search", f"searching {rtype}"))
            found[rtype] = _by_id(_ids_search(client, rtype, "patient", patients))
        for rtype in (t for t in SHARED_TYPES if t in types):  # in this order: roles name organizations
            wanted = sorted(_referenced(rtype, (r for kind in found.values() for r in kind.values())))
            found[rtype] = _by_id(_ids_search(client, rtype, "_id", wanted))
            if rtype == "PractitionerRole":  # the performers' roles (their taxonomy): by practitioner
                people = sorted(
                    _referenced("Practitioner", (r for kind in found.values() for r in kind.values()))
                )
                found[rtype].update(_by_id(_ids_search(client, rtype, "practitioner", people)))
    except FhirError as exc:
        raise BulkServerError(f"the paged search failed: {exc.message}") from exc
    result = ExportResult(dest_dir, "search")
    for rtype in types:
        rows = found.get(rtype) or {}
        if rows:
            path = dest_dir / file_name(rtype, 1)
            path.write_text(
                "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows.values()), "utf-8"
            )
            result.files.append(ExportedFile(rtype, path, len(rows)))
    report(Progress("done", f"{sum(f.count for f in result.files)} resources by paged search"))
    return result


def _group_members(client: FhirClient, group_id: str) -> list[str]:
    group = client.read("Group", group_id)
    refs = [
        m.get("entity", {}).get("reference", "") for m in group.get("member") or [] if not m.get("inactive")
    ]
    return [r.rsplit("/", 1)[1] for r in refs if r.startswith("Patient/") or "/Patient/" in r]


def _all(client: FhirClient, rtype: str) -> list[dict[str, Any]]:
    return _matches(client, rtype, [("_count", str(PAGE_SIZE))])


def _ids_search(client: FhirClient, rtype: str, param: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ",".join(ids[start : start + CHUNK])
        out += _matches(client, rtype, [(param, chunk), ("_count", str(PAGE_SIZE))])
    return out


def _matches(client: FhirClient, rtype: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    first = client.request("GET", rtype, params=params).body
    out: list[dict[str, Any]] = []
    for page in client.pages(first, max_pages=MAX_PAGES):
        for entry in page.get("entry") or []:
            resource = entry.get("resource")
            mode = (entry.get("search") or {}).get("mode", "match")
            if isinstance(resource, dict) and resource.get("resourceType") == rtype and mode == "match":
                out.append(resource)
    return out


def _by_id(resources: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r.get("id")): r for r in resources}


def _referenced(rtype: str, resources: Iterable[dict[str, Any]]) -> set[str]:
    """Ids of ``rtype`` that the resources reference (relative or absolute references)."""
    out: set[str] = set()
    for resource in resources:
        for ref in _references(resource):
            parts = ref.split("/")
            if len(parts) >= 2 and parts[-2] == rtype and parts[-1]:
                out.add(parts[-1])
    return out


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield ref
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)
