"""Deterministic business identifiers (DESIGN.md §3 "Nothing lost, nothing twice").

The same signed service always yields the same identifiers, so the server itself can tell whether a charge
or note already exists, whatever the app's local store remembers. Inputs: issuer, patient, encounter, code,
service date and the draft id (``sandbox-test`` passes a hash of the service record in place of a draft id).

A visit (several services, one signature) has its own scheme: its job, note and Provenance are keyed by the
visit (``VISIT_CODE`` in place of a code), each charge by its code; ``visit_record_hash`` is its draft id in
``sandbox-test``. The single-service scheme is frozen and unchanged.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import MISSING, Field, fields, is_dataclass
from datetime import date
from typing import Any

from billing_rules.model import EvaluationComponents, RtmData, ServiceRecord
from billing_rules.visit import VisitRecord

VISIT_CODE = "visit"
_NAMESPACE = uuid.UUID("0d5c43b8-5b0e-4f55-9d55-3c1f6f6a4b21")


def business_id(
    kind: str,
    *,
    issuer: str,
    patient_id: str,
    encounter_id: str | None,
    code: str,
    service_date: date | None,
    draft_id: str,
    ordinal: int = 0,
) -> str:
    """``<kind>-<32 hex>``: a SHA-256 over the inputs; ``ordinal`` tells apart two lines with one code."""
    parts = [
        issuer.rstrip("/"),
        patient_id,
        encounter_id or "",
        code,
        service_date.isoformat() if service_date else "",
        draft_id,
        kind,
        str(ordinal),
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"{kind}-{digest[:32]}"


def placeholder_url(identifier_value: str) -> str:
    """A stable ``urn:uuid:`` for an entry, so a resent transaction is byte-for-byte the same."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, identifier_value)}"


# The fields each record type had when this hash was defined. A field added later enters the hash only when
# it differs from its default, so adding a field to ServiceRecord (an additive contract change) keeps the
# draft id, and so the identifiers, of every service documented before: a rerun after an upgrade still finds
# what the first run wrote instead of writing a second charge.
_HASHED_FIELDS: dict[type, frozenset[str]] = {
    ServiceRecord: frozenset(
        {
            "code", "service_date", "minutes", "mode", "location", "patients_in_group", "patient_present",
            "caregiver_present", "curriculum", "topics", "adaptations", "response", "diagnoses",
            "other_timed_minutes", "assistant_minutes", "evaluation", "rtm", "consent_documented",
            "plan_of_care_certified", "therapy_ytd_allowed", "payer_class", "provider_role",
        }
    ),
    RtmData: frozenset({"days_of_data", "management_minutes", "interactive_communication", "rpm_same_month"}),
    EvaluationComponents: frozenset(
        {"personal_factors", "body_systems", "presentation", "decision_complexity"}
    ),
}  # fmt: skip


def service_record_hash(record: ServiceRecord) -> str:
    """The draft id ``sandbox-test`` uses: a hash of the documented service (stable across added fields)."""
    payload = json.dumps(_stable(record), sort_keys=True, default=_json_default)
    return "svc-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def visit_record_hash(visit: VisitRecord) -> str:
    """The draft id ``sandbox-test`` uses for a visit: a hash of its services in order (stable as above)."""
    payload = json.dumps([_stable(s) for s in visit.services], sort_keys=True, default=_json_default)
    return "vis-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def _stable(value: Any) -> Any:
    """``asdict`` less the later-added fields that still hold their default."""
    if not is_dataclass(value) or isinstance(value, type):
        return value
    known = next((_HASHED_FIELDS[c] for c in type(value).__mro__ if c in _HASHED_FIELDS), None)
    out: dict[str, Any] = {}
    for f in fields(value):
        item = getattr(value, f.name)
        if known is None or f.name in known or item != _default(f):
            out[f.name] = _stable(item)
    return out


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
