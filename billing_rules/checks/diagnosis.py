"""Diagnoses: dx.missing, dx.invalid, dx.not-billable, dx.not-supporting, dx.needs-icd10 (+ code set)."""

from __future__ import annotations

from billing_rules import icd10
from billing_rules.families import supporting_family
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy


def _chart_candidates(context: ClinicalContext) -> str:
    codes = [c for d in context.conditions for c in d.icd10 if icd10.is_billable(c)]
    return f" (on the chart: {', '.join(dict.fromkeys(codes))})" if codes else ""


def _snomed_only(context: ClinicalContext) -> list[str]:
    if not context.conditions or any(d.icd10 for d in context.conditions):
        return []
    return [d.display or (d.snomed[0] if d.snomed else "uncoded") for d in context.conditions]


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    if not record.diagnoses:
        out = [policy.finding("dx.missing", candidates=_chart_candidates(context))]
        conditions = _snomed_only(context)
        if conditions:
            out.append(policy.finding("dx.needs-icd10", conditions="; ".join(conditions[:5])))
        return out
    code_set = icd10.code_set_for(policy.on)
    out = []
    if not code_set.covers:
        label = "ICD-10-CM code set"
        out.append(policy.finding("rules.out-of-period", table=label, used=f"the {code_set.name} code set"))
    valid = []
    for dx in record.diagnoses:
        norm = icd10.normalise(dx)
        if not icd10.is_valid(norm, policy.on):
            out.append(policy.finding("dx.invalid", dx=dx, code_set=code_set.name))
        elif not icd10.is_billable(norm, policy.on):
            examples = ", ".join(icd10.children_examples(norm)) or "a more specific code"
            out.append(policy.finding("dx.not-billable", dx=norm, examples=examples))
        else:
            valid.append(norm)
    linked = list(dict.fromkeys(icd10.normalise(d) for d in record.diagnoses))
    if len(linked) > 4:
        out.append(policy.finding("dx.pointer-limit", dropped=", ".join(linked[4:])))
    needs_support = "established-dx" in policy.code.get("requires", ())
    if needs_support and valid and not any(supporting_family(dx, policy.rules, policy.on) for dx in valid):
        out.append(policy.finding("dx.not-supporting", dx=", ".join(valid)))
    return out
