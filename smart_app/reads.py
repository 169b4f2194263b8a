"""All reads of a launch in one round trip (DESIGN.md §3 "Minimal round trips").

One ``batch`` Bundle of GETs fetches the patient, the encounter, its diagnoses and the active problems, active
coverage with its payer, orders, the clinician (``fhirUser``) with their roles, and charges already on the
encounter. Searchsets with ``next`` links are followed page by page. Where the server's CapabilityStatement
lacks ``batch`` (or the server refuses the batch), the same GETs run as bounded parallel single requests: the
rules of the one read engine (``smart_app.fhir_reads``), which the CDS services use too. The
result goes to ``fhir_mappings.read.context_from_resources``, which builds the tolerant ``ClinicalContext``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from billing_rules.model import ClinicalContext
from smart_app import capabilities
from smart_app.fhir_client import FhirClient
from smart_app.fhir_reads import Answer, read_queries

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
    reads = read_queries(client, queries, batch=facts.batch, max_workers=max_workers, max_pages=max_pages)
    resources, problems = _collect(reads.answers)
    context = context_from_resources(
        resources, patient_id=patient_id, encounter_id=encounter_id, practitioner_ref=fhir_user
    )
    if problems:
        context = replace(context, read_notes=(*context.read_notes, *problems))
    return LaunchReads(context, resources, client.requests_sent - start, reads.used_batch, tuple(problems))


def supports_batch(client: FhirClient) -> bool:
    """Whether the server takes ``batch``, from the shared per-server cache (launches skip /metadata)."""
    return capabilities.of(client).batch


def forget_capabilities() -> None:
    """Empty the shared capability cache (tests, or after reconfiguring a server)."""
    capabilities.forget()


def _collect(answers: list[Answer]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every resource once (a search and a read may return the same one); what could not be read, by type."""
    seen: set[tuple[str, str]] = set()
    resources: list[dict[str, Any]] = []
    problems: list[str] = []
    for answer in answers:
        if answer.resources is None:
            problems.append(f"{answer.query.split('?')[0]} could not be read: {answer.problem}")
            continue
        for res in answer.resources:
            key = (str(res.get("resourceType")), str(res.get("id")))
            if key not in seen:
                seen.add(key)
                resources.append(res)
    return resources, problems
