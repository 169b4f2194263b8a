"""The exact requests a plan would send, for ``smart-edu sandbox-test`` without ``--write``.

Sequential steps show ``urn:uuid:`` placeholders where the server's id of an earlier step goes. On a fresh
write Provenance is not looked up (it is written last, so it cannot exist before the steps it follows).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from smart_app import capabilities
from smart_app.fhir_client import FhirClient
from smart_app.writeback.lookup import search_params
from smart_app.writeback.plan import PlannedResource, WritePlan
from smart_app.writeback.strategies import transaction_entries


def planned_requests(client: FhirClient, plan: WritePlan) -> list[dict[str, Any]]:
    base = client.base_url
    if plan.strategy == "transaction":
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": transaction_entries(plan, base)}
        return [{"method": "POST", "url": f"{base}/", "body": bundle}]
    out: list[dict[str, Any]] = []
    plain = [e for e in plan.entries if e.key != "provenance" and e.operation_body is None]
    other = [e for e in plan.entries if e.key != "provenance" and e.operation_body is not None]
    if len(plain) > 1 and capabilities.of(client).batch:
        entries = [{"request": {"method": "GET", "url": _lookup_url(client, plan, e)}} for e in plain]
        body = {"resourceType": "Bundle", "type": "batch", "entry": entries}
        out.append({"method": "POST", "url": f"{base}/", "body": body})
    else:
        other = plain + other
    out.extend({"method": "GET", "url": f"{base}/{_lookup_url(client, plan, e)}"} for e in other)
    for e in plan.entries:
        if e.operation_body is not None:
            out.append({"method": "POST", "url": f"{base}/ChargeItem/$create", "body": e.operation_body})
        elif e.method == "PUT":
            out.append(
                {"method": "PUT", "url": f"{base}/{e.resource_type}/{e.resource['id']}", "body": e.resource}
            )
        else:
            out.append({"method": "POST", "url": f"{base}/{e.resource_type}", "body": e.resource})
    return out


def _lookup_url(client: FhirClient, plan: WritePlan, e: PlannedResource) -> str:
    if e.operation_body is not None:
        return "ChargeItem?" + urlencode(
            [("context", f"Encounter/{plan.encounter_id}"), ("-status", "billable")]
        )
    return f"{e.resource_type}?{urlencode(search_params(client, e, plan.patient_id, plan.encounter_id))}"
