"""What a card says, decided from the chart by the rules engine; pure (no Flask, no HTTP).

Why a probe evaluation: the card must say what the *engine* would say for this patient and payer, not a
second opinion written into the card code. So we evaluate the education code the chart points to (the
ordered code, else 98960) with the patient's supporting ICD-10-CM codes linked and one unit of time, and
keep only the findings the chart decides (payer, provider, order, diagnoses, duplicates); documentation
findings (curriculum, minutes, …) are the clinician's to fill in the app and would only be noise here. The
payable routes for a payer that does not pay the code come from the engine's ``payer.not-covered`` prompt,
i.e. from the rules data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import billing_rules
from billing_rules.model import ClinicalContext, Diagnosis, Evaluation, Finding, Order, ServiceRecord
from billing_rules.schema import UNVERIFIED_TAG as UNVERIFIED
from smart_app.cds_hooks.cards import md_escape, md_source_links
from smart_app.cds_hooks.ours import is_education_order

DEFAULT_CODE = "98960"
EDUCATION_GROUPS = ("self-management education", "group education", "caregiver training")
CHART_RULES = (
    "payer.",
    "provider.",
    "order.",
    "dx.",
    "patient.deceased",
    "duplicate.",
    "rules.not-evaluated",
)
# Findings about the rule data itself (e.g. no code set loaded for the date): true, but nothing the clinician
# can fix; they are shown as a footnote and never raise the card's indicator.
DATA_RULES = ("rules.out-of-period",)
UNIT_MINUTES = {"timed-30": 30, "timed-15": 15, "caregiver-30": 30}
PAYER_LABELS = {
    "medicare": "Medicare",
    "medicare-advantage": "Medicare Advantage",
    "medicaid": "Medicaid",
    "commercial": "Commercial plan",
    "self-pay": "Self-pay",
    "unknown": "Unknown payer",
}
_CODE_TOKEN = re.compile(r"\b(?:\d{5}|[A-Z]\d{4})(?:[-/](?:\d{5}|[A-Z]\d{4}))?\b")
_INACTIVE = frozenset({"inactive", "resolved", "remission"})
_NOT_TRUE = frozenset({"refuted", "entered-in-error"})


@dataclass(frozen=True)
class Advice:
    """One card's content before it is dressed as a CDS Hooks card."""

    kind: str
    indicator: str
    summary: str
    detail: str
    code: str
    codes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    app_context: dict[str, str] = field(default_factory=dict)
    link_label: str = "Open the education billing checker"


@dataclass(frozen=True)
class Support:
    """A condition that typically supports self-management education."""

    family: str
    icd10: tuple[str, ...]
    display: str | None


def supporting_conditions(ctx: ClinicalContext) -> list[Support]:
    """Active, not refuted conditions in a supporting family (ICD-10-CM first, else SNOMED CT)."""
    out: list[Support] = []
    for dx in ctx.conditions:
        if not _current(dx):
            continue
        families = [f for f in (billing_rules.supporting_family(c) for c in dx.icd10) if f]
        families += [f for f in (billing_rules.snomed_family(c) for c in dx.snomed) if f]
        if families:
            leaves = tuple(c for c in dx.icd10 if billing_rules.supporting_family(c))
            out.append(Support(families[0], leaves, dx.display))
    return out


def _current(dx: Diagnosis) -> bool:
    active = (dx.clinical_status or "active") not in _INACTIVE
    return active and (dx.verification_status or "") not in _NOT_TRUE


def education_codes() -> tuple[str, ...]:
    return tuple(c.code for c in billing_rules.catalogue() if c.group in EDUCATION_GROUPS)


def education_orders(ctx: ClinicalContext) -> list[Order]:
    codes = education_codes()
    return [o for o in ctx.orders if is_education_order(o, codes)]


def ordered_code(orders: Iterable[Order]) -> str | None:
    known = {c.code for c in billing_rules.catalogue() if c.group != "E/M"}
    for order in orders:
        for coding in order.codes:
            if coding.code.strip().upper() in known:
                return coding.code.strip().upper()
    return None


def probe(code: str, ctx: ClinicalContext, supports: Sequence[Support], on: date) -> Evaluation:
    """Evaluate one unit of ``code`` with the supporting diagnoses linked, as the app would on signing."""
    info = next((c for c in billing_rules.catalogue() if c.code == code), None)
    minutes = UNIT_MINUTES.get(info.unit_type) if info else None
    linked: list[str] = []
    for s in supports:
        linked.extend(c for c in s.icd10 if c not in linked)
    if not linked:  # ordered without a supporting family: link what the chart has, the engine judges it
        for dx in ctx.conditions:
            linked.extend(c for c in dx.icd10 if _current(dx) and c not in linked)
    record = ServiceRecord(code=code, service_date=on, minutes=minutes, diagnoses=tuple(linked[:4]))
    return billing_rules.evaluate(record, ctx, as_of=on)


def chart_findings(evaluation: Evaluation) -> list[Finding]:
    """Findings the chart decides; ``provider.unknown`` is left out (the card names no performer)."""
    return [
        f
        for f in evaluation.findings
        if f.rule.startswith(CHART_RULES) and f.severity != "info" and f.rule != "provider.unknown"
    ]


def data_notes(evaluation: Evaluation) -> str:
    notes = [f"Rule data: {md_escape(f.message)}" for f in evaluation.findings if f.rule in DATA_RULES]
    return "\n\n".join(dict.fromkeys(notes))


def alternative_codes(finding: Finding, code: str) -> tuple[str, ...]:
    """The codes a ``payer.not-covered`` prompt names as payable routes (the rules data's own list)."""
    found = [c for c in _CODE_TOKEN.findall(finding.prompt) if c != code]
    return tuple(dict.fromkeys(found))


def service_day(ctx: ClinicalContext, today: date) -> date:
    return ctx.encounter.service_date or today


def family_label(supports: Sequence[Support]) -> str | None:
    names = list(dict.fromkeys(s.family.replace("_", " ").replace("-", " ") for s in supports))
    return " and ".join(names[:2]) if names else None


def findings_markdown(findings: Iterable[Finding]) -> str:
    lines = []
    for f in findings:
        label = {"block": "Must fix", "warn": "Check", "info": "Note"}[f.severity]
        line = f"- **{label}** ({md_escape(f.rule)}): {md_escape(f.message)} {md_escape(f.prompt)}"
        lines.append(line + source_markdown(f.source, f.source_urls))
    return "\n".join(lines)


def source_markdown(source: str, urls: Sequence[str]) -> str:
    """A short source note: links by host ('product decision' without any), and whether it is unverified."""
    links = md_source_links(urls)
    said = (
        f"Source: {links}"
        if links
        else ("Source: product decision" if "decision" in source.casefold() else "")
    )
    if UNVERIFIED in source:
        said += " (rests on an unverified value)"
    return f" _{said}_" if said else ""
