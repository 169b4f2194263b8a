"""Oracle Health's ``ChargeItem/$create`` (smart-fhir.md §2.4): the one way to write a charge there.

``$create`` makes a charge *event* and answers 200 with a Location and no body; the resulting ChargeItems are
found with ``ChargeItem?context=Encounter/<id>&-status=billable``. Oracle keeps neither our identifier nor our
code system on them, so "already written" is recognised by the tenant bill code and the service date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from smart_app.fhir_client import FhirClient
from smart_app.writeback.plan import PlannedResource, WritePlan

_CHARGE_REF = re.compile(r"(?:^|/)ChargeItem/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?/?$")


def find_charge(client: FhirClient, plan: WritePlan, entry: PlannedResource) -> str | None:
    """``ChargeItem/<id>`` of a charge on the encounter with our bill code and date, or None."""
    if not plan.encounter_id or entry.operation_body is None:
        return None
    item = _charge_of(entry.operation_body)
    coding = item["code"]["coding"][0]
    day = str(item["occurrenceDateTime"])[:10]
    params = [("context", f"Encounter/{plan.encounter_id}"), ("-status", "billable")]
    for found in client.search("ChargeItem", params):
        codes = (found.get("code") or {}).get("coding") or []
        same_code = any(
            c.get("system") == coding["system"] and c.get("code") == coding["code"] for c in codes
        )
        if same_code and str(found.get("occurrenceDateTime", ""))[:10] == day and found.get("id"):
            return f"ChargeItem/{found['id']}"
    return None


def create_charge(client: FhirClient, plan: WritePlan, entry: PlannedResource) -> str | None:
    """POST the Parameters; return the ChargeItem it made (from Location, else by searching)."""
    assert entry.operation_body is not None
    response = client.operation("ChargeItem/$create", entry.operation_body)
    match = _CHARGE_REF.search(response.location or "")
    if match:
        return f"ChargeItem/{match.group(1)}"
    return find_charge(client, plan, entry)


def _charge_of(parameters: Mapping[str, Any]) -> dict[str, Any]:
    for p in parameters.get("parameter") or []:
        if p.get("name") == "chargeItem":
            resource: dict[str, Any] = p["resource"]
            return resource
    raise ValueError("Parameters without a chargeItem")
