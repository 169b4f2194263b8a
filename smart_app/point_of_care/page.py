"""What the point-of-care templates need, built in one place for the page, the live fragment and the review.

Keeps the views short and the templates free of logic: linkable diagnoses (ICD-10-CM first, encounter
diagnoses before problems), SNOMED-only conditions, which controls are hidden, and the payer/role overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from billing_rules import icd10
from billing_rules.model import PAYER_CLASSES, PROVIDER_ROLES, ClinicalContext, Diagnosis
from smart_app.point_of_care.curricula import curricula
from smart_app.point_of_care.evaluation import Check, grouped_choices
from smart_app.point_of_care.form import focus_id


@dataclass(frozen=True)
class Linkable:
    code: str
    label: str
    category: str = ""


def _label(code: str, display: str | None) -> str:
    return display or icd10.describe(code) or "no description"


def linkable_diagnoses(context: ClinicalContext) -> list[Linkable]:
    """ICD-10-CM codes of the context's conditions, encounter diagnoses first, each once."""

    def rank(dx: Diagnosis) -> int:
        return 0 if "encounter-diagnosis" in dx.category else 1

    out: dict[str, Linkable] = {}
    for dx in sorted(context.conditions, key=rank):
        for code in dx.icd10:
            out.setdefault(code, Linkable(code, _label(code, dx.display), ", ".join(dx.category)))
    return list(out.values())


def extra_linked(fields: Mapping[str, Any], linkable: list[Linkable]) -> list[Linkable]:
    """Codes the clinician linked from the search, which the EHR did not list."""
    known = {item.code for item in linkable}
    picked = fields.get("dx") or []
    codes = [c for c in (picked if isinstance(picked, list) else [picked]) if isinstance(c, str)]
    return [Linkable(c, _label(c, None)) for c in dict.fromkeys(codes) if c not in known]


def form_context(
    *,
    handle: str,
    context: ClinicalContext,
    fields: Mapping[str, Any],
    check: Check,
    icd_results: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Template variables shared by the page and its live fragment."""
    needed = set(check.needed) if check.code else set()
    linkable = linkable_diagnoses(context)
    snomed_only = [dx for dx in context.conditions if dx.needs_icd10]
    service_date: date | None = context.encounter.service_date

    def hide(*names: str) -> str:
        return "" if needed.intersection(names) else "hidden"

    def val(name: str) -> str:
        value = fields.get(name, "")
        return value if isinstance(value, str) else ""

    return {
        "handle": handle,
        "ctx": context,
        "f": fields,
        "check": check,
        "needed": needed,
        "hide": hide,
        "val": val,
        "focus_id": focus_id,
        "choices": grouped_choices(),
        "curricula": curricula(),
        "default_date": service_date.isoformat() if service_date else "",
        "linkable": linkable,
        "extra_linked": extra_linked(fields, linkable),
        "snomed_only": snomed_only,
        "icd_hint": (snomed_only[0].display or "") if snomed_only and not linkable else "",
        "icd_results": icd_results,
        "payer": context.payer,
        "provider": context.provider,
        "payer_editable": context.payer.payer_class == "unknown",
        "role_editable": context.provider.role == "unknown",
        "payer_classes": [p for p in PAYER_CLASSES if p != "unknown"],
        "provider_roles": [r for r in PROVIDER_ROLES if r != "unknown"],
    }
