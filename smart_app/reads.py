"""All reads of a launch in one round trip (DESIGN.md §3 "Minimal round trips").

One ``batch`` Bundle of GETs fetches the patient, the encounter, its diagnoses and the active problems, active
coverage with its payer, orders, the clinician (``fhirUser``) with their roles, and charges already on the
encounter. Searchsets with ``next`` links are followed page by page. Where the server's CapabilityStatement
lacks ``batch`` (or the server refuses the batch), the same GETs run as bounded parallel single requests. The
result goes to ``fhir_mappings.read.context_from_resources``, which builds the tolerant ``ClinicalContext``.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from billing_rules.model import ClinicalContext
from smart_app import capabilities
from smart_app.fhir_client import FhirClient, FhirError, FhirUnauthorized, outcome_message

BATCH_REFUSED = frozenset({400, 404, 405, 415, 422, 501})
PAGE_SIZE = 100
REQUESTER_INCLUDE = "ServiceRequest:requester"


@dataclass(frozen=True)
class LaunchReads:
    """What the launch read: the mapped context, the raw resources, and what it cost."""

    context: ClinicalContext
    resources: list[dict[str, Any]]
    round_trips: int
    used_batch: bool
    problems: tuple[str, ...] = ()


def launch_queries(
    patient_id: str, encounter_id: str | None, fhir_user: str | None, *, include_requester: bool = False
) -> list[str]:
    """The relative GET URLs of one launch's reads.

    ``include_requester`` (only where the server lists ``ServiceRequest:requester`` in ``searchInclude``; an
    unsupported ``_include`` could fail the whole order read) brings each order's requester in the same
    answer, so the rules can tell that a physician, NP or PA signed it.
    """
    p = patient_id
    orders = f"ServiceRequest?patient={p}&status=active,completed&_count={PAGE_SIZE}"
    queries = [f"Patient/{p}"]
    if encounter_id:
        queries += [
            f"Encounter/{encounter_id}",
            f"Condition?patient={p}&encounter={encounter_id}&category=encounter-diagnosis&_count={PAGE_SIZE}",
        ]
    queries += [
        f"Condition?patient={p}&category=problem-list-item&clinical-status=active&_count={PAGE_SIZE}",
        f"Coverage?patient={p}&status=active&_include=Coverage:payor",
        # Completed orders count too (rules-contract: an order "active or completed" before the service).
        orders + (f"&_include={REQUESTER_INCLUDE}" if include_requester else ""),
    ]
    queries += _practitioner_queries(fhir_user)
    if encounter_id:
        queries.append(f"ChargeItem?context=Encounter/{encounter_id}&_count={PAGE_SIZE}")
    return queries


def _practitioner_queries(fhir_user: str | None) -> list[str]:
    if not fhir_user or "://" in fhir_user:
        return []  # absent, or on another server: never sent our token there
    kind, _, ident = fhir_user.partition("/")
    if not ident or "/" in ident:
        return []
    if kind == "Practitioner":
        return [f"Practitioner/{ident}", f"PractitionerRole?practitioner={ident}"]
    if kind == "PractitionerRole":
        return [f"PractitionerRole?_id={ident}&_include=PractitionerRole:practitioner"]
    return []


def read_launch_context(
    client: FhirClient,
    *,
    patient_id: str,
    encounter_id: str | None,
    fhir_user: str | None,
    max_workers: int = 4,
    max_pages: int = 10,
) -> LaunchReads:
    """Read everything the first page and the rules need, in one batch where the server allows it."""
    from fhir_mappings.read import context_from_resources

    start = client.requests_sent
    facts = capabilities.of(client)
    orders = facts.resource("ServiceRequest")
    include = orders is not None and REQUESTER_INCLUDE in orders.includes
    queries = launch_queries(patient_id, encounter_id, fhir_user, include_requester=include)
    bodies: list[tuple[str, dict[str, Any] | None, str | None]] | None = None
    used_batch = False
    if facts.batch:
        bodies = _read_batch(client, queries)
        used_batch = bodies is not None
    if bodies is None:
        bodies = _read_singles(client, queries, max_workers)
    resources, problems = _collect(client, bodies, max_pages)
    context = context_from_resources(
        resources, patient_id=patient_id, encounter_id=encounter_id, practitioner_ref=fhir_user
    )
    if problems:
        context = replace(context, read_notes=(*context.read_notes, *problems))
    return LaunchReads(context, resources, client.requests_sent - start, used_batch, tuple(problems))


def supports_batch(client: FhirClient) -> bool:
    """Whether the server takes ``batch``, from the shared per-server cache (launches skip /metadata)."""
    return capabilities.of(client).batch


def forget_capabilities() -> None:
    """Empty the shared capability cache (tests, or after reconfiguring a server)."""
    capabilities.forget()


def _read_batch(
    client: FhirClient, queries: list[str]
) -> list[tuple[str, dict[str, Any] | None, str | None]] | None:
    entries = [{"request": {"method": "GET", "url": q}} for q in queries]
    try:
        response = client.batch(entries, kind="batch")
    except FhirUnauthorized:
        raise
    except FhirError as exc:
        if exc.status in BATCH_REFUSED:
            capabilities.batch_refused(client.base_url)
            return None
        raise
    out: list[tuple[str, dict[str, Any] | None, str | None]] = []
    answers = response.get("entry") or []
    for i, query in enumerate(queries):
        entry = answers[i] if i < len(answers) else {}
        status = str((entry.get("response") or {}).get("status", "")).split(" ")[0]
        resource = entry.get("resource")
        if status.startswith("2") and isinstance(resource, dict):
            out.append((query, resource, None))
        else:
            outcome = (entry.get("response") or {}).get("outcome") or resource
            why = outcome_message(outcome) or f"HTTP {status or 'no answer'}"
            out.append((query, None, why))
    return out


def _read_singles(
    client: FhirClient, queries: list[str], max_workers: int
) -> list[tuple[str, dict[str, Any] | None, str | None]]:
    def one(query: str) -> tuple[str, dict[str, Any] | None, str | None]:
        try:
            return query, client.request("GET", query).body, None
        except FhirUnauthorized:
            raise
        except FhirError as exc:
            return query, None, exc.message

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(queries)))) as pool:
        return list(pool.map(one, queries))


def _collect(
    client: FhirClient, bodies: Iterable[tuple[str, dict[str, Any] | None, str | None]], max_pages: int
) -> tuple[list[dict[str, Any]], list[str]]:
    seen: set[tuple[str, str]] = set()
    resources: list[dict[str, Any]] = []
    problems: list[str] = []
    for query, body, why in bodies:
        if body is None:
            problems.append(f"{query.split('?')[0]} could not be read: {why}")
            continue
        found = _resources_of(client, body, max_pages) if body.get("resourceType") == "Bundle" else [body]
        for res in found:
            key = (str(res.get("resourceType")), str(res.get("id")))
            if res.get("resourceType") == "OperationOutcome" or key in seen:
                continue
            seen.add(key)
            resources.append(res)
    return resources, problems


def _resources_of(client: FhirClient, bundle: dict[str, Any], max_pages: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.pages(bundle, max_pages=max_pages):
        out.extend(e["resource"] for e in page.get("entry") or [] if isinstance(e.get("resource"), dict))
    return out
