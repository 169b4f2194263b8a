"""Deterministic business identifiers (DESIGN.md §3 "Nothing lost, nothing twice").

The same signed service always yields the same identifiers, so the server itself can tell whether a charge
or note already exists, whatever the app's local store remembers. Inputs: issuer, patient, encounter, code,
service date and the draft id (``sandbox-test`` passes a hash of the service record in place of a draft id).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict
from datetime import date
from typing import Any

from billing_rules.model import ServiceRecord

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


def service_record_hash(record: ServiceRecord) -> str:
    """The draft id ``sandbox-test`` uses: a hash of the documented service."""
    payload = json.dumps(asdict(record), sort_keys=True, default=_json_default)
    return "svc-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
