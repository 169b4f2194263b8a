"""Recognise what this app wrote, and what counts as an education order: the one place these checks live.

The write-back (``fhir_mappings.extensions``) marks every ChargeItem and DocumentReference it writes with a
business identifier in the project's identifier system, a ``meta.tag`` and ``meta.source``. EHRs may drop
``meta`` on store (many do), so the identifier is the main signal and the tag/source the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from billing_rules import orders as billing_orders
from billing_rules.model import Order
from fhir_mappings.extensions import (
    CPT_SYSTEM,
    HCPCS_SYSTEM,
    IDENTIFIER_SYSTEM,
    META_SOURCE,
    WRITTEN_BY_TAG_CODE,
    WRITTEN_BY_TAG_SYSTEM,
)


def is_app_written(resource: Mapping[str, Any]) -> bool:
    """True for a resource carrying our identifier system, our written-by tag, or our meta.source."""
    for ident in resource.get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") == IDENTIFIER_SYSTEM and ident.get("value"):
            return True
    meta = resource.get("meta") if isinstance(resource.get("meta"), Mapping) else {}
    assert isinstance(meta, Mapping)
    for tag in meta.get("tag") or []:
        if isinstance(tag, Mapping) and (tag.get("system"), tag.get("code")) == (
            WRITTEN_BY_TAG_SYSTEM,
            WRITTEN_BY_TAG_CODE,
        ):
            return True
    return meta.get("source") == META_SOURCE


def billing_code(resource: Mapping[str, Any]) -> str | None:
    """The CPT/HCPCS code of a ChargeItem (``code``) or of one of our notes (none: notes carry LOINC)."""
    code = resource.get("code") if isinstance(resource.get("code"), Mapping) else {}
    assert isinstance(code, Mapping)
    for coding in code.get("coding") or []:
        if isinstance(coding, Mapping) and coding.get("system") in (CPT_SYSTEM, HCPCS_SYSTEM):
            value = str(coding.get("code") or "").strip().upper()
            if value:
                return value
    return None


def is_education_order(order: Order, education_codes: Iterable[str]) -> bool:
    """An active/completed order asking for education, by the rules engine's test (billing_rules.orders)."""
    if (order.status or "active") not in ("active", "completed"):
        return False
    return billing_orders.is_education_order(order, education_codes)
