"""Diagnoses: dx.missing, dx.invalid, dx.not-billable, dx.not-supporting, dx.needs-icd10 (+ code set)."""

from __future__ import annotations

from datetime import date

from billing_rules import icd10
from billing_rules.families import supporting_family
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy


def _chart_candidates(context: ClinicalContext, on: date) -> str:
    codes = [c for d in context.conditions for c in d.icd10 if icd10.is_billable(c, on)]
    return f" (on the chart: {', '.join(dict.fromkeys(codes))})" if codes else ""


def _snomed_only(context: ClinicalContext) -> list[str]:
    if not context.conditions or any(d.icd10 for d in context.conditions):
        return []
    return [d.display or (d.snomed[0] if d.snomed else "uncoded") for d in context.conditions]


def _years(code: str) -> str:
    years = icd10.valid_years(code)
    return f" ({code} is valid in {', '.join(years)})" if years else ""


def _not_checked(policy: Policy, unchecked: list[icd10.Lookup]) -> Finding:
    """One finding for the codes the date's own code set could not check (never a silent use of another
    year)."""
    wanted = unchecked[0].wanted or "this date"
    used = unchecked[0].code_set.name
    codes = ", ".join(dict.fromkeys(look.code for look in unchecked))
    return policy.finding("rules.out-of-period", "code-set", codes=codes, year=wanted, used=used)


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    if not record.diagnoses:
        out = [policy.finding("dx.missing", candidates=_chart_candidates(context, policy.on))]
        conditions = _snomed_only(context)
        if conditions:
            out.append(policy.finding("dx.needs-icd10", conditions="; ".join(conditions[:5])))
        return out
    out = []
    valid = []
    unchecked: list[icd10.Lookup] = []
    for dx in record.diagnoses:
        look = icd10.lookup(dx, policy.on)
        if not look.checked:
            unchecked.append(look)
        if not look.valid:
            out.append(
                policy.finding("dx.invalid", dx=dx, code_set=look.code_set.name, years=_years(look.code))
            )
        elif not look.billable:
            examples = ", ".join(icd10.children_examples(look.code, on=policy.on)) or "a more specific code"
            out.append(policy.finding("dx.not-billable", dx=look.code, examples=examples))
        else:
            valid.append(look.code)
    if unchecked:
        out.append(_not_checked(policy, unchecked))
    linked = list(dict.fromkeys(icd10.normalise(d) for d in record.diagnoses))
    if len(linked) > 4:
        out.append(policy.finding("dx.pointer-limit", dropped=", ".join(linked[4:])))
    needs_support = "established-dx" in policy.code.get("requires", ())
    if needs_support and valid and not any(supporting_family(dx, policy.rules, policy.on) for dx in valid):
        out.append(policy.finding("dx.not-supporting", dx=", ".join(valid)))
    return out
