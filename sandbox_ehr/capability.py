"""The CapabilityStatement, generated from what the store really supports (searchparams.PARAMS)."""

from __future__ import annotations

from typing import Any

from sandbox_ehr import oracle_charges
from sandbox_ehr.searchparams import PARAMS, include_params

SMART_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
EXPORT_OPERATIONS = {
    None: ("export", f"{BULK_DATA}/OperationDefinition/export"),
    "Patient": ("export", f"{BULK_DATA}/OperationDefinition/patient-export"),
    "Group": ("export", f"{BULK_DATA}/OperationDefinition/group-export"),
}


def capability_statement(
    base_url: str, auth_base: str | None, *, oracle_chargeitem: bool = False, bulk_export: bool = False
) -> dict[str, Any]:
    """``auth_base`` None means open mode: no security section, since no token is needed.
    ``oracle_chargeitem``: ChargeItem as Oracle Health lists it (read, search-type, ``$create``).
    ``bulk_export``: the Bulk Data ``$export`` operations at the system, Patient and Group levels."""
    resources = []
    for rtype, params in PARAMS.items():
        if rtype == "ChargeItem" and oracle_chargeitem:
            resources.append(oracle_charges.capability_entry())
            continue
        search = [{"name": "_id", "type": "token"}] + [{"name": n, "type": p.kind} for n, p in params.items()]
        entry: dict[str, Any] = {
            "type": rtype,
            "interaction": [{"code": c} for c in ("read", "search-type", "create", "update")],
            "versioning": "versioned-update",
            "readHistory": False,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": search,
        }
        includes = [f"{rtype}:{p}" for p in include_params(rtype)]
        if includes:
            entry["searchInclude"] = includes
        if bulk_export and rtype in EXPORT_OPERATIONS:
            name, definition = EXPORT_OPERATIONS[rtype]
            entry["operation"] = [{"name": name, "definition": definition}]
        resources.append(entry)
    rest: dict[str, Any] = {
        "mode": "server",
        "resource": resources,
        "interaction": [{"code": "batch"}, {"code": "transaction"}],
    }
    if bulk_export:
        name, definition = EXPORT_OPERATIONS[None]
        rest["operation"] = [{"name": name, "definition": definition}]
    if auth_base:
        rest["security"] = {
            "service": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                            "code": "SMART-on-FHIR",
                        }
                    ]
                }
            ],
            "extension": [
                {
                    "url": SMART_OAUTH_URIS,
                    "extension": [
                        {"url": "authorize", "valueUri": f"{auth_base}/authorize"},
                        {"url": "token", "valueUri": f"{auth_base}/token"},
                    ],
                }
            ],
        }
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-01",
        "kind": "instance",
        "software": {"name": "smart-edu sandbox EHR (development only)", "version": "0.1.0"},
        "implementation": {"description": "Local stand-in EHR for demos and tests", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }
    if bulk_export:
        statement["instantiates"] = [f"{BULK_DATA}/CapabilityStatement/bulk-data"]
    return statement
