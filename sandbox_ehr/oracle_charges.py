"""Oracle Health's ChargeItem API (smart-fhir.md §2.4), for a sandbox started with ``oracle_chargeitem``.

Oracle offers ChargeItem ``read``, ``search-type`` and the ``$create`` operation only: plain ``POST
/ChargeItem`` (and ``PUT``) is refused with 405 + OperationOutcome, as the sandbox refuses every
interaction its CapabilityStatement does not list. ``$create`` takes a ``Parameters`` body
(``transactionId`` valueUuid and exactly one ``chargeItem`` with status ``unknown``, subject, context,
occurrenceDateTime, quantity and one coding from the tenant's bill-code system), records the charge as
``billable`` (keeping no identifier, as Oracle does) and answers 200 with a Location and an empty body.
A transactionId seen before is NOT recognised: Oracle documents no such idempotency, so the app must not
rely on it. Searches need ``-status=billable`` with ``context``/``account``, as on Oracle.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox_ehr.outcome import FhirProblem

#: The tenant bill-code tiers ``$create`` accepts (``…/<tenant>/CodeSystem/BillCodes-<tier>``).
BILL_CODE_SYSTEM = re.compile(r"^https?://\S+/CodeSystem/BillCodes-(CDM_SCHED|CPT|HCPCS|PROCCODE)$")
UUID = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
REQUIRED = ("subject", "context", "occurrenceDateTime", "quantity", "code")
SEARCH_PARAMS = ("_id", "context", "account", "-status")
#: Search-result shaping parameters the sandbox always honours.
PAGING = frozenset({"_count", "_offset", "_format", "_pretty"})
OPERATIONS = {
    "credit": "https://fhir-ehr.cerner.com/r4/OperationDefinition/charge-item-credit",
    "modify": "https://fhir-ehr.cerner.com/r4/OperationDefinition/charge-item-modify",
    "create": "https://fhir-ehr.cerner.com/r4/OperationDefinition/charge-item-create",
}


def capability_entry() -> dict[str, Any]:
    """ChargeItem as Oracle's CapabilityStatement lists it (read, search-type, operations; no create).
    ``credit`` and ``modify`` are listed as on Oracle but answered 405 here (the app never calls them)."""
    return {
        "type": "ChargeItem",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [{"name": n, "type": "reference" if n in ("context", "account") else "token"}
                        for n in SEARCH_PARAMS],
        "operation": [{"name": n, "definition": d} for n, d in OPERATIONS.items()],
    }  # fmt: skip


def charge_item_of(parameters: Any) -> dict[str, Any]:
    """The ChargeItem to store from a ``$create`` body, or a FhirProblem: 400 for a body that is not the
    operation's Parameters, 422 (``business-rule``) for a charge Oracle's rules refuse."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise FhirProblem(400, "structure", "ChargeItem/$create takes a Parameters resource")
    params = parameters.get("parameter") or []
    ids = [p for p in params if p.get("name") == "transactionId"]
    if len(ids) != 1 or not UUID.match(str(ids[0].get("valueUuid", ""))):
        raise FhirProblem(
            400, "required", "exactly one transactionId (valueUuid) is required", "transactionId"
        )
    items = [p.get("resource") for p in params if p.get("name") == "chargeItem"]
    if len(items) != 1 or not isinstance(items[0], dict) or items[0].get("resourceType") != "ChargeItem":
        raise FhirProblem(400, "required", "exactly one chargeItem (a ChargeItem) is required", "chargeItem")
    item: dict[str, Any] = items[0]
    _check_rules(item)
    return {k: v for k, v in item.items() if k not in ("id", "identifier", "meta")} | {"status": "billable"}


def _check_rules(item: dict[str, Any]) -> None:
    if item.get("status") != "unknown":
        raise _rule("ChargeItem.status must be 'unknown'", "ChargeItem.status")
    for name in REQUIRED:
        if not item.get(name):
            raise _rule(f"ChargeItem.{name} is required", f"ChargeItem.{name}")
    if not str(item["subject"].get("reference", "")).startswith("Patient/"):
        raise _rule("ChargeItem.subject must reference a Patient", "ChargeItem.subject")
    if not str(item["context"].get("reference", "")).startswith("Encounter/"):
        raise _rule("ChargeItem.context must reference an Encounter", "ChargeItem.context")
    codings = item["code"].get("coding") or []
    if len(codings) != 1 or not BILL_CODE_SYSTEM.match(str(codings[0].get("system", ""))):
        raise _rule(
            "ChargeItem.code must have exactly one coding from the tenant's BillCodes-"
            "{CDM_SCHED|CPT|HCPCS|PROCCODE} code system",
            "ChargeItem.code.coding",
        )


def _rule(diagnostics: str, expression: str) -> FhirProblem:
    return FhirProblem(422, "business-rule", diagnostics, expression)


def search_params(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Oracle's ChargeItem search rules; returns the query the store answers (``-status`` → ``status``)."""
    names = {k for k, _ in params}
    unknown = sorted(names - set(SEARCH_PARAMS) - PAGING)
    if unknown:
        raise FhirProblem(400, "not-supported", f"ChargeItem search does not support {', '.join(unknown)}")
    if names & {"context", "account"} and "-status" not in names:
        raise FhirProblem(400, "required", "-status is required when searching by context or account")
    if not names & {"_id", "context", "account"}:
        raise FhirProblem(400, "required", "ChargeItem search needs _id, context or account")
    return [("status" if k == "-status" else k, v) for k, v in params]
