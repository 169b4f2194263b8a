"""What the point-of-care templates need, built in one place for the page, the live fragment and the review.

Keeps the views short and the templates free of logic: linkable diagnoses (ICD-10-CM first, encounter
diagnoses before problems), SNOMED-only conditions, which controls are hidden, and the payer/role overrides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from billing_rules import icd10
from billing_rules.model import PAYER_CLASSES, PROVIDER_ROLES, ClinicalContext, Diagnosis
from smart_app.point_of_care.allocation import allocation, row_lines
from smart_app.point_of_care.curricula import curricula
from smart_app.point_of_care.evaluation import GROUP_LABELS, Check, code_choices, grouped_choices
from smart_app.point_of_care.form import focus_id
from smart_app.point_of_care.rows import MAX_ROWS


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
    role = str(fields.get("provider_role") or "") or context.provider.role
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
        "choices_by_code": code_choices(),
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
        "when": readable_time,
        "families": {r.choice.family for r in check.rows if r.choice is not None},
        "group_session": any(r.choice is not None and r.choice.is_group for r in check.rows),
        "furnished": furnished_choices(role),
        "max_rows": MAX_ROWS,
        "group_labels": GROUP_LABELS,
        **results_context(check, context),
    }


def results_context(check: Check, context: ClinicalContext) -> dict[str, Any]:
    """What the live results fragment and the rows' results need (also sent alone by the live check)."""
    return {
        "check": check,
        "focus_id": focus_id,
        "allocation": allocation(check, context),
        "row_lines": row_lines,
        "field_label": field_label,
        "switch_to": switch_to,
        "family": visit_family(check),
        "heading": HEADINGS.get(visit_family(check), "Document the visit"),
    }


def visit_family(check: Check) -> str:
    """``therapy`` or ``education`` when every chosen service is of that family, else ``visit``."""
    families = {r.choice.family for r in check.rows if r.choice is not None}
    return families.pop() if len(families) == 1 and families <= {"therapy", "education"} else "visit"


HEADINGS = {"therapy": "Document the therapy visit", "education": "Document the education session"}
ASSISTANT_OF = {"PT": "PTA", "OT": "OTA"}


def readable_time(value: str | None) -> str:
    """An ISO date or dateTime as the clinician reads it (``2 Mar 2026, 09:00``); the text as sent when it is
    not one. The EHR's own clock time is kept: no conversion to the server's zone."""
    if not value:
        return ""
    try:
        if len(value) <= 10:
            return date.fromisoformat(value).strftime("%-d %b %Y")
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%-d %b %Y, %H:%M")


def furnished_choices(role: str) -> list[tuple[str, str]] | None:
    """Who furnished a therapy line, in the clinician's discipline; None when the clinician is the assistant
    (every line is then the assistant's, and the engine marks it)."""
    if role in ("PTA", "OTA"):
        return None
    me = f"Me ({role})" if role in ASSISTANT_OF else "Me"
    helper = ASSISTANT_OF.get(role, "PTA/OTA")
    return [
        ("", me),
        ("assistant", f"A {helper}, all of it"),
        ("shared", f"Me with a {helper} (give the {helper}'s minutes)"),
    ]


# What a finding's ``field`` is called on the page (never the field's own name).
FIELD_LABELS = {
    "code": "the service",
    "service_date": "the date",
    "minutes": "the minutes",
    "mode": "how the visit took place",
    "location": "where the patient was",
    "patients_in_group": "patients in the session",
    "patient_present": "patient present",
    "caregiver_present": "caregiver present",
    "curriculum": "the curriculum",
    "topics": "the topics",
    "adaptations": "the adaptations",
    "response": "the patient's response",
    "diagnoses": "the diagnoses",
    "dx": "the diagnoses",
    "assistant_minutes": "who furnished it",
    "evaluation": "the evaluation components",
    "rtm": "the monitoring details",
    "consent_documented": "the consent",
    "plan_of_care_certified": "the plan of care",
    "therapy_ytd_allowed": "the amount allowed this year",
    "payer": "the payer",
    "payer_class": "the payer",
    "provider": "your role",
    "provider_role": "your role",
}


def field_label(field: str | None) -> str:
    head = (field or "").split(",")[0].strip().split(".")[0]
    return FIELD_LABELS.get(head, "the field")


_CODE = re.compile(r"\b([A-Z]?\d{4,5})(?:-(\d{4,5}))?\b")


def switch_to(finding: Any) -> list[str]:
    """The payable codes a not-covered finding names for this clinician and these diagnoses (the rule data
    filters them; the page offers each catalogued one as a "Switch to" button), never the blocked code."""
    if getattr(finding, "rule", "") != "payer.not-covered" or "Payable routes" not in finding.prompt:
        return []
    listed = finding.prompt.split("Payable routes", 1)[1].split(" - each only", 1)[0]
    found: list[str] = []
    for first, last in _CODE.findall(listed):
        found.append(first)
        if last and first[:-2] == last[:-2]:
            found += [f"{first[:-2]}{n:02d}" for n in range(int(first[-2:]) + 1, int(last[-2:]) + 1)]
    blocked = getattr(finding, "code", None)
    return [c for c in dict.fromkeys(found) if c in code_choices() and c != blocked]
