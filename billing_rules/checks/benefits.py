"""Medicare DSMT and MNT benefits: benefit.condition, benefit.not-accredited, benefit.same-day, benefit.hours.

DSMT (G0108/G0109) needs diabetes and an accredited program; MNT (97802-97804) diabetes, kidney disease or a
kidney transplant; the two are not billed the same day; each covers so many hours a benefit year (rule data
``[[benefit_hours]]``). docs/reference/rules-2027.md §10.
"""

from __future__ import annotations

from typing import Any

from billing_rules import icd10
from billing_rules.families import supporting_family
from billing_rules.loader import pick
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy

EXAMPLES = {"diabetes": "E11.9", "chronic kidney disease": "N18.30", "kidney transplant": "Z94.0"}


def _condition(record: ServiceRecord, policy: Policy) -> list[Finding]:
    wanted = policy.code.get("dx_families")
    if not wanted or not record.diagnoses:
        return []  # no diagnosis at all is dx.missing's finding
    linked = [icd10.normalise(d) for d in record.diagnoses]
    if any(supporting_family(d, policy.rules, policy.on) in wanted for d in linked):
        return []
    values: dict[str, Any] = {
        "families": " or ".join(wanted),
        "dx": ", ".join(linked),
        "example": EXAMPLES.get(wanted[0], "a qualifying code"),
    }
    return [policy.finding("benefit.condition", **values)]


def _accredited(record: ServiceRecord, policy: Policy) -> list[Finding]:
    if "accredited-program" not in policy.code.get("requires", ()):
        return []
    if record.accredited_program is True:
        return []
    return [policy.finding("benefit.not-accredited", "" if record.accredited_program is False else "unknown")]


def _same_day(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    excluded = set(policy.code.get("not_with", ()))
    if not excluded:
        return []
    own = set(context.own_identifiers)
    charged = [
        c.code
        for c in context.existing_charges
        if c.code
        and c.service_date == policy.on
        and not own & set(c.identifiers)
        and c.status != "entered-in-error"
    ]
    clash = [c for c in dict.fromkeys([*record.other_timed_minutes, *charged]) if c in excluded]
    return [policy.finding("benefit.same-day", other=" and ".join(clash))] if clash else []


def _hours(record: ServiceRecord, policy: Policy) -> list[Finding]:
    benefit = policy.code.get("benefit")
    if benefit is None:
        return []
    if record.benefit_hours_used is None or record.benefit_year is None:
        return [policy.finding("benefit.hours", "unknown")]
    rows = [
        e
        for e in policy.rules.entries("benefit_hours")
        if e["benefit"] == benefit and e["year"] == record.benefit_year
    ]
    limit = pick(rows, policy.on)
    if limit is None:
        return []
    session = (record.minutes or 0) / 60
    used = record.benefit_hours_used
    if used + session <= limit["hours"]:
        return []
    values: dict[str, Any] = {
        "used": f"{used:g}",
        "limit": f"{limit['hours']:g}",
        "year": record.benefit_year,
        "session": f"{session:.2g} h",
        "left": f"{max(0.0, limit['hours'] - used):g} h",
    }
    return [policy.finding("benefit.hours", cites=limit, **values)]


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    if not policy.code.get("benefit"):
        return []
    return (
        _condition(record, policy)
        + _accredited(record, policy)
        + _same_day(record, context, policy)
        + _hours(record, policy)
    )
