"""The CDS services this app offers and their prefetch templates (CDS Hooks 2.0 discovery).

Prefetch templates use only root-level context tokens and the user tokens the spec defines, and only the query
subset the spec recommends (instance reads, reference/token searches), so any CDS client can satisfy them. The
same templates drive our own reads when a key was not prefetched (``reads.py``), so a prefetched value and a
fetched one are the same data by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PATIENT = "Patient/{{context.patientId}}"
ENCOUNTER = "Encounter/{{context.encounterId}}"
CONDITIONS = "Condition?patient={{context.patientId}}"
COVERAGE = "Coverage?patient={{context.patientId}}&status=active"
ORDERS = "ServiceRequest?patient={{context.patientId}}"
PRACTITIONER = "Practitioner/{{userPractitionerId}}"
ROLES = "PractitionerRole?practitioner={{userPractitionerId}}"
CHARGES = "ChargeItem?patient={{context.patientId}}&context={{context.encounterId}}"
NOTES = "DocumentReference?patient={{context.patientId}}&encounter={{context.encounterId}}"

_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


@dataclass(frozen=True)
class CdsService:
    """One service of the discovery document; ``required`` are the prefetch keys it cannot decide without."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    required: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
        }

    def required_keys(self, context: Mapping[str, Any]) -> frozenset[str]:
        """Required keys whose template renders for this context (an absent optional id needs none)."""
        return frozenset(k for k in self.required if render(self.prefetch[k], context) is not None)


_PATIENT_LEVEL = {
    "patient": PATIENT,
    "encounter": ENCOUNTER,
    "conditions": CONDITIONS,
    "coverage": COVERAGE,
    "orders": ORDERS,
    "practitioner": PRACTITIONER,
    "practitionerRoles": ROLES,
}
_CORE = frozenset({"patient", "conditions", "coverage", "orders"})

SERVICES: tuple[CdsService, ...] = (
    CdsService(
        id="patient-view",
        hook="patient-view",
        title="Patient education billing: what can be billed",
        description=(
            "When the patient has a condition that typically supports self-management education, or an order "
            "for education, says which education or therapy codes can be billed for this patient and payer, "
            "and links to the documentation app."
        ),
        prefetch=_PATIENT_LEVEL,
        required=_CORE | {"encounter"},
    ),
    CdsService(
        id="encounter-start",
        hook="encounter-start",
        title="Patient education billing at the start of the visit",
        description=(
            "At the start of an encounter, says which education or therapy codes can be billed for this "
            "patient and payer when a supporting condition or an education order exists, with a link to "
            "the app."
        ),
        prefetch=_PATIENT_LEVEL,
        required=_CORE | {"encounter"},
    ),
    CdsService(
        id="encounter-discharge",
        hook="encounter-discharge",
        title="Patient education billing check at discharge",
        description=(
            "At discharge, checks education and therapy services documented on the encounter by this app, "
            "and education orders with nothing documented, and shows what is missing before the charge "
            "goes out."
        ),
        prefetch={**_PATIENT_LEVEL, "charges": CHARGES, "notes": NOTES},
        required=_CORE | {"encounter", "charges", "notes"},
    ),
)

BY_ID: dict[str, CdsService] = {s.id: s for s in SERVICES}


def discovery_document() -> dict[str, Any]:
    return {"services": [s.to_dict() for s in SERVICES]}


def render(template: str, context: Mapping[str, Any]) -> str | None:
    """Fill a prefetch template from the hook context; None when a token has no primitive value to use."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        found = token_value(match.group(1), context)
        if found is None:
            missing = True
            return ""
        return found

    out = _TOKEN.sub(value, template)
    return None if missing else out


def token_value(token: str, context: Mapping[str, Any]) -> str | None:
    """A token's value: ``context.<root field>`` (primitives only) or a user token derived from ``userId``."""
    if token.startswith("context."):
        raw = context.get(token.removeprefix("context."))
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            return None
        text = str(raw).strip()
        return text if _safe_id(text) else None
    resource_type = _USER_TOKENS.get(token)
    user = context.get("userId")
    if resource_type and isinstance(user, str) and user.startswith(resource_type + "/"):
        text = user.removeprefix(resource_type + "/")
        return text if _safe_id(text) else None
    return None


def _safe_id(text: str) -> bool:
    """FHIR ids (and Type/id) only: a context value must never smuggle query syntax into our reads."""
    return bool(re.fullmatch(r"[A-Za-z0-9\-.]{1,64}(/[A-Za-z0-9\-.]{1,64})?", text))
