"""Find what already carries a planned resource's business identifier on the server (the source of truth).

Every match is checked on the client too: a server that ignores an unknown search parameter returns
everything, and taking that for "already written" would lose a charge. Where a server cannot
search by ``identifier`` (Oracle Health DocumentReference), the search falls
back to patient + encounter and filters here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from smart_app import capabilities
from smart_app.fhir_client import FhirClient, FhirPreconditionFailed
from smart_app.writeback.plan import PlannedResource

DUPLICATES = (
    "The EHR already holds more than one resource with this service's identifier: a duplicate exists. "
    "Nothing more is written; ask the billing office to void the extra one, then retry"
)


def find_existing(
    client: FhirClient, entries: Sequence[PlannedResource], *, patient_id: str, encounter_id: str | None
) -> dict[str, str]:
    """Map entry key -> ``Type/id`` for the entries already on the server."""
    queries = {e.key: search_params(client, e, patient_id, encounter_id) for e in entries}
    bundles: dict[str, list[dict[str, Any]]] = {}
    if len(entries) > 1 and capabilities.of(client).batch:
        bundles = _batch_search(client, entries, queries)
    found: dict[str, str] = {}
    for e in entries:
        resources = bundles.get(e.key)
        if resources is None:
            resources = client.search(e.resource_type, queries[e.key], max_pages=5)
        refs = sorted({f"{e.resource_type}/{r['id']}" for r in resources if carries(r, e) and r.get("id")})
        if len(refs) > 1:  # as a conditional create would answer 412: never pick one, never add another
            raise FhirPreconditionFailed(f"{DUPLICATES} ({', '.join(refs)})", status=412)
        if refs:
            found[e.key] = refs[0]
    return found


def carries(resource: Mapping[str, Any], entry: PlannedResource) -> bool:
    """True if ``resource`` holds the entry's identifier (or, for Provenance, its key tag)."""
    if resource.get("resourceType") != entry.resource_type:
        return False
    system, _, value = entry.if_none_exist.partition("=")[2].partition("|")
    if entry.if_none_exist.startswith("_tag="):
        tags = (resource.get("meta") or {}).get("tag") or []
        return any(t.get("system") == system and t.get("code") == value for t in tags)
    return any(
        i.get("system") == system and i.get("value") == value for i in resource.get("identifier") or []
    )


def search_params(
    client: FhirClient, entry: PlannedResource, patient_id: str, encounter_id: str | None
) -> list[tuple[str, str]]:
    name, _, value = entry.if_none_exist.partition("=")
    caps = capabilities.of(client).resource(entry.resource_type)
    declared = caps.search_params if caps is not None else frozenset()
    if not declared or name in declared or name.startswith("_"):
        return [(name, value)]
    params = [("patient", patient_id)]
    if encounter_id and "encounter" in declared:
        params.append(("encounter", f"Encounter/{encounter_id}"))
    return params


def _batch_search(
    client: FhirClient, entries: Sequence[PlannedResource], queries: Mapping[str, list[tuple[str, str]]]
) -> dict[str, list[dict[str, Any]]]:
    """One round trip for every lookup; an entry the batch could not answer is searched alone."""
    requests = [
        {"request": {"method": "GET", "url": f"{e.resource_type}?{urlencode(queries[e.key])}"}}
        for e in entries
    ]
    answer = client.batch(requests, kind="batch")
    out: dict[str, list[dict[str, Any]]] = {}
    for e, item in zip(entries, answer.get("entry") or [], strict=False):
        status = str((item.get("response") or {}).get("status", ""))
        bundle = item.get("resource") or {}
        if status.startswith("2") and bundle.get("resourceType") == "Bundle" and not _has_next(bundle):
            out[e.key] = [
                x["resource"] for x in bundle.get("entry") or [] if isinstance(x.get("resource"), dict)
            ]
    return out


def _has_next(bundle: Mapping[str, Any]) -> bool:
    return any(link.get("relation") == "next" for link in bundle.get("link") or [])
