"""The write strategies (DESIGN.md §3): one transaction, or lookup-then-create step by step with the ledger.

Sequential order is fixed: DocumentReference, ChargeItem(s), Provenance. Each create is recorded in the ledger
before it is sent and after it answered, so a retry resumes where it stopped; a step whose answer was lost is
"unknown" and is looked up by identifier before anything is created again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fhir_mappings.write import transaction_entry
from smart_app.fhir_client import FhirClient, FhirError, FhirResponse, FhirTransportError
from smart_app.store import Database
from smart_app.writeback import ledger, oracle
from smart_app.writeback.lookup import find_existing
from smart_app.writeback.plan import PlannedResource, WritePlan

_LOCATION = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?/?$")


@dataclass(frozen=True)
class Written:
    key: str
    resource_type: str
    ref: str | None  # Type/id on the server
    created: bool  # False: it was already there

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "type": self.resource_type, "ref": self.ref, "created": self.created}


def run_transaction(client: FhirClient, plan: WritePlan) -> list[Written]:
    """One round trip: every entry a conditional create on its identifier, linked by ``urn:uuid``."""
    entries = transaction_entries(plan, client.base_url)
    answer = client.batch(entries, kind="transaction")
    items = answer.get("entry") or []
    if len(items) != len(plan.entries):
        raise FhirError("transaction: the response does not answer every entry", status=None)
    out: list[Written] = []
    for e, item in zip(plan.entries, items, strict=True):
        response = item.get("response") or {}
        status = str(response.get("status", ""))
        ref = ref_from(response.get("location"), item.get("resource"), e.resource_type)
        out.append(Written(e.key, e.resource_type, ref, created=status.startswith("201")))
    return out


def transaction_entries(plan: WritePlan, base_url: str) -> list[dict[str, Any]]:
    """Conditional creates linked by ``urn:uuid``; a PUT entry carries its own id and the server URL."""
    out = []
    for e in plan.entries:
        if e.method == "PUT":
            url = f"{e.resource_type}/{e.resource['id']}"
            request = {"method": "PUT", "url": url}
            out.append({"fullUrl": f"{base_url}/{url}", "resource": e.resource, "request": request})
        else:
            out.append(transaction_entry(e.resource, full_url=e.full_url, if_none_exist=e.if_none_exist))
    return out


def lookup_all(client: FhirClient, plan: WritePlan) -> dict[str, str]:
    """What of the plan is already on the server (used after a lost transaction response). A PUT entry is not
    looked up: sending it again is harmless, so the caller resends when anything is not found."""
    plain = [e for e in plan.entries if e.operation_body is None and e.method == "POST"]
    found = find_existing(client, plain, patient_id=plan.patient_id, encounter_id=plan.encounter_id)
    for e in plan.entries:
        if e.operation_body is not None and (ref := oracle.find_charge(client, plan, e, sent_before=True)):
            found[e.key] = ref
    return found


def run_sequential(
    db: Database, client: FhirClient, plan: WritePlan, fence: ledger.Fence | None = None
) -> list[Written]:
    """Look up, then create what is missing in the fixed order, recording each step in the ledger (each
    step, with ``fence``, only while this holder still holds the job: a taken-over write stops there)."""
    known = ledger.steps(db, [e.identifier for e in plan.entries])
    todo = [e for e in plan.entries if not _done(known, e)]
    found = _lookup(client, plan, todo, known)
    refs: dict[str, str] = {}
    out: list[Written] = []
    for e in plan.entries:
        step = known.get(e.identifier)
        if step is not None and step.state == "done" and step.server_ref:
            out.append(Written(e.key, e.resource_type, step.server_ref, step.created))
        elif e.key in found:
            _mark(db, plan, e, "done", found[e.key], fence=fence)
            out.append(Written(e.key, e.resource_type, found[e.key], created=False))
        else:
            ref, created = _create(db, client, plan, e, refs, fence)
            out.append(Written(e.key, e.resource_type, ref, created=created))
        if out[-1].ref:
            refs[e.full_url] = out[-1].ref
    return out


def _lookup(
    client: FhirClient, plan: WritePlan, todo: list[PlannedResource], known: dict[str, ledger.Step]
) -> dict[str, str]:
    """Lookups for the unfinished steps. Provenance is written last, so it is only looked for when an earlier
    step already existed or a previous attempt touched it (saves a round trip on a fresh write)."""
    plain = [e for e in todo if e.operation_body is None and e.key != "provenance"]
    found = (
        find_existing(client, plain, patient_id=plan.patient_id, encounter_id=plan.encounter_id)
        if plain
        else {}
    )
    for e in todo:
        step = known.get(e.identifier)
        sent_before = step is not None and step.state in ("sending", "unknown")
        if e.operation_body is not None and (
            ref := oracle.find_charge(client, plan, e, sent_before=sent_before)
        ):
            found[e.key] = ref
    prov = next((e for e in todo if e.key == "provenance" and e.method == "POST"), None)
    if prov is not None and (found or known):
        found.update(
            find_existing(client, [prov], patient_id=plan.patient_id, encounter_id=plan.encounter_id)
        )
    return found


def _create(
    db: Database,
    client: FhirClient,
    plan: WritePlan,
    e: PlannedResource,
    refs: dict[str, str],
    fence: ledger.Fence | None = None,
) -> tuple[str | None, bool]:
    """Send one step; (server reference, whether it is new). Ledger: 'sending' before (which proves the
    lease is still held, so a taken-over holder never sends), 'done' after."""
    _mark(db, plan, e, "sending", fence=fence)
    fresh = True
    try:
        if e.operation_body is not None:
            ref = oracle.create_charge(client, plan, e)
        elif e.method == "PUT":
            url = f"{e.resource_type}/{e.resource['id']}"
            response = client.request("PUT", url, json=resolve(e.resource, refs), retry=True)  # idempotent
            ref, fresh = url, response.status == 201
        else:
            ref = _ref_of(client.create(resolve(e.resource, refs)), e.resource_type)
    except FhirTransportError:
        _mark(db, plan, e, "unknown", fence=fence)
        raise
    except FhirError as exc:
        _mark(db, plan, e, "unknown" if exc.status is None or exc.status >= 500 else "failed", fence=fence)
        raise
    _mark(db, plan, e, "done", ref, created=fresh, fence=fence)
    return ref, fresh


def resolve(resource: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    """Replace ``urn:uuid:`` placeholders of earlier steps with their server references."""
    text = json.dumps(resource)
    for placeholder, ref in refs.items():
        text = text.replace(f'"{placeholder}"', json.dumps(ref))
    resolved: dict[str, Any] = json.loads(text)
    return resolved


def ref_from(location: str | None, body: Any, resource_type: str) -> str | None:
    match = _LOCATION.search(location or "")
    if match and match.group(1) == resource_type:
        return f"{match.group(1)}/{match.group(2)}"
    if isinstance(body, dict) and body.get("resourceType") == resource_type and body.get("id"):
        return f"{resource_type}/{body['id']}"
    return None


def _ref_of(response: FhirResponse, resource_type: str) -> str | None:
    return ref_from(response.location, response.body, resource_type)


def _done(known: dict[str, ledger.Step], e: PlannedResource) -> bool:
    step = known.get(e.identifier)
    return step is not None and step.state == "done" and bool(step.server_ref)


def _mark(
    db: Database,
    plan: WritePlan,
    e: PlannedResource,
    state: ledger.StepState,
    ref: str | None = None,
    *,
    created: bool = False,
    fence: ledger.Fence | None = None,
) -> None:
    ledger.mark(
        db,
        e.identifier,
        write_key=plan.write_key,
        resource_type=e.resource_type,
        state=state,
        server_ref=ref,
        created=created,
        fence=fence,
    )
