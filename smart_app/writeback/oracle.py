"""Oracle Health's ``ChargeItem/$create`` (smart-fhir.md §2.4): the one way to write a charge there.

``$create`` makes a charge *event* and answers 200 with a Location and no body; the resulting ChargeItems are
found with ``ChargeItem?context=Encounter/<id>&-status=billable``. Oracle keeps neither our identifier nor our
code system on them, so "already written" can only be recognised by the tenant bill code and the service date.
That match is trusted only when the ledger says this app sent the charge and the answer was lost; a match that
the ledger cannot explain (an empty local store, or a genuinely separate same-code same-day charge) is not
guessed at: the write stops with a ``ChargeQuestion`` for the clinician, as a lost charge is as bad as a
duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from smart_app.fhir_client import FhirClient, FhirError
from smart_app.writeback.plan import PlannedResource, WritePlan

_CHARGE_REF = re.compile(r"(?:^|/)ChargeItem/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?/?$")


class ChargeQuestion(FhirError):
    """Same-code same-day charge(s) on the encounter that this app's ledger cannot explain: the clinician
    decides whether one of them is this service's charge or whether this is a separate charge."""

    def __init__(self, key: str, candidates: list[str], code: str, day: str) -> None:
        listed = ", ".join(candidates)
        super().__init__(
            f"The encounter already has a billable charge with bill code {code} on {day} ({listed}). "
            "Confirm it is this service's charge, or write this service as a separate charge."
        )
        self.key = key
        self.candidates = candidates


def find_charges(client: FhirClient, plan: WritePlan, entry: PlannedResource) -> list[str]:
    """``ChargeItem/<id>`` of every billable charge on the encounter with our bill code and date, less those
    the clinician said belong to another service (``entry.not_ours``)."""
    if not plan.encounter_id or entry.operation_body is None:
        return []
    item = _charge_of(entry.operation_body)
    coding = item["code"]["coding"][0]
    day = str(item["occurrenceDateTime"])[:10]
    params = [("context", f"Encounter/{plan.encounter_id}"), ("-status", "billable")]
    refs: list[str] = []
    for found in client.search("ChargeItem", params):
        codes = (found.get("code") or {}).get("coding") or []
        same_code = any(
            c.get("system") == coding["system"] and c.get("code") == coding["code"] for c in codes
        )
        ref = f"ChargeItem/{found.get('id')}"
        same_day = str(found.get("occurrenceDateTime", ""))[:10] == day
        if same_code and same_day and found.get("id") and ref not in entry.not_ours and ref not in refs:
            refs.append(ref)
    return refs


def find_charge(
    client: FhirClient, plan: WritePlan, entry: PlannedResource, *, sent_before: bool
) -> str | None:
    """This service's charge, or None when there is none. ``sent_before``: the ledger says a ``$create`` of
    it was sent and its outcome is unknown, so a single match is ours. Any other match raises
    ``ChargeQuestion`` rather than guessing."""
    refs = find_charges(client, plan, entry)
    if not refs:
        return None
    if sent_before and len(refs) == 1:
        return refs[0]
    item = _charge_of(entry.operation_body or {})
    code = str(item["code"]["coding"][0]["code"])
    raise ChargeQuestion(entry.key, refs, code, str(item["occurrenceDateTime"])[:10])


def create_charge(client: FhirClient, plan: WritePlan, entry: PlannedResource) -> str | None:
    """POST the Parameters; return the ChargeItem it made (from Location, else by searching)."""
    assert entry.operation_body is not None
    response = client.operation("ChargeItem/$create", entry.operation_body)
    match = _CHARGE_REF.search(response.location or "")
    if match:
        return f"ChargeItem/{match.group(1)}"
    return find_charge(client, plan, entry, sent_before=True)


def _charge_of(parameters: Mapping[str, Any]) -> dict[str, Any]:
    for p in parameters.get("parameter") or []:
        if p.get("name") == "chargeItem":
            resource: dict[str, Any] = p["resource"]
            return resource
    raise ValueError("Parameters without a chargeItem")
