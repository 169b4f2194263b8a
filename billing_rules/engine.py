"""evaluate(): one documented service + what the EHR knows -> Evaluation (pure, data-driven, fails closed)."""

from __future__ import annotations

from datetime import date

from billing_rules.checks import (
    benefits,
    coverage,
    diagnosis,
    documentation,
    duplicate,
    edits,
    evaluation,
    group,
    orders,
    patient,
    provider,
    rtm,
    telehealth,
    therapy,
    time,
)
from billing_rules.estimate import estimate_for
from billing_rules.icd10 import normalise
from billing_rules.lines import compute_units
from billing_rules.loader import RuleSet, default_rules
from billing_rules.model import (
    SEVERITY_ORDER,
    ChargeLine,
    ClinicalContext,
    Estimate,
    Evaluation,
    Finding,
    ServiceRecord,
)
from billing_rules.policy import THERAPISTS, Policy, payer_of, role_of

# Order matters only for modifiers: discipline, assistant and KX (therapy) come before telehealth ones.
CHECKS = (
    coverage.check,
    provider.check,
    orders.check,
    documentation.check,
    time.check,
    group.check,
    patient.check,
    diagnosis.check,
    therapy.check,
    telehealth.check,
    evaluation.check,
    rtm.check,
    benefits.check,
    duplicate.check,
    edits.check,
)
FALLBACK_CODE = {"code": "", "unit": "em", "therapy": "never", "roles": [], "patient": "any", "group": ""}


def _service_date(record: ServiceRecord, context: ClinicalContext, as_of: date | None) -> tuple[date, bool]:
    known = record.service_date or context.encounter.service_date
    return (known, True) if known else (as_of or date.today(), False)


def _policy(record: ServiceRecord, context: ClinicalContext, rules: RuleSet, on: date) -> Policy:
    payer_class = payer_of(record, context)
    payer_name = context.payer.name if record.payer_class in (None, context.payer.payer_class) else None
    merged, covered = rules.policy(payer_class, payer_name, on)
    entry = rules.code(record.code, on) or dict(FALLBACK_CODE, code=record.code)
    policy = Policy(rules, on, entry, payer_class, payer_name, merged, role_of(record, context))
    if not covered and merged:
        used = f"the {payer_class} policy of {merged['effective_from']}..{merged['effective_to']}"
        policy.extra.append(
            policy.finding("rules.out-of-period", table=f"{payer_class} payer policy", used=used)
        )
    return policy


def _not_evaluated(policy: Policy, record: ServiceRecord) -> list[Finding]:
    """Fail closed: codes without a rule, and E/M codes (in the catalogue only to catch the wrong family)."""
    if policy.rules.code(record.code, policy.on) is None:
        return [policy.finding("rules.not-evaluated")]
    if policy.code["unit"] == "em" and policy.role not in THERAPISTS:
        return [policy.finding("rules.not-evaluated", "em")]
    return []


def evaluate(
    record: ServiceRecord,
    context: ClinicalContext,
    *,
    as_of: date | None = None,
    rules: RuleSet | None = None,
) -> Evaluation:
    """Check one documented service against the payer's rules; every problem is a Finding with a prompt."""
    rules = rules or default_rules()
    on, date_known = _service_date(record, context, as_of)
    policy = _policy(record, context, rules, on)
    findings = [] if date_known else [policy.finding("date.assumed")]
    stop = _not_evaluated(policy, record)
    if stop:
        return _result(findings + stop, (), None, rules)
    policy.units = compute_units(record, policy.code, policy.payer.get("unit_method", ""), rules, on)
    for check in CHECKS:
        findings.extend(check(record, context, policy))
    lines = _lines(record, policy)
    estimate = estimate_for(lines, policy)
    if any(f.severity == "block" for f in findings):
        # A blocked line is not submitted as is: no estimate notice for it. The figure itself stays, as the
        # revenue at risk `smart-edu scrub` sums over blocked charges (DESIGN.md §4).
        policy.extra = [f for f in policy.extra if not f.rule.startswith("estimate.")]
    findings.extend(policy.extra)
    return _result(findings, lines, estimate, rules)


def _lines(record: ServiceRecord, policy: Policy) -> tuple[ChargeLine, ...]:
    diagnoses = tuple(dict.fromkeys(normalise(d) for d in record.diagnoses))[:4]
    modifiers = tuple(dict.fromkeys(policy.modifiers))
    out = []
    for code, units in policy.units.items():
        if units <= 0:
            continue
        assistant, marked = policy.assistant_units.get(code, ("", 0))
        if not marked:
            out.append(ChargeLine(code, units, modifiers, policy.pos, diagnoses))
            continue
        with_cq = _insert_after_discipline(modifiers, assistant)
        if units > marked:  # the therapist's own whole units: paid in full, no CQ/CO
            out.append(ChargeLine(code, units - marked, modifiers, policy.pos, diagnoses))
        out.append(ChargeLine(code, marked, with_cq, policy.pos, diagnoses))
    return tuple(out)


def _insert_after_discipline(modifiers: tuple[str, ...], assistant: str) -> tuple[str, ...]:
    """GP/GO first, then CQ/CO, then the rest (KX, 95 ...), as payers read them."""
    head = [m for m in modifiers if m in ("GP", "GO")]
    rest = [m for m in modifiers if m not in ("GP", "GO")]
    return tuple(dict.fromkeys([*head, assistant, *rest]))


def _result(
    findings: list[Finding], lines: tuple[ChargeLine, ...], estimate: Estimate | None, rules: RuleSet
) -> Evaluation:
    unique = list(dict.fromkeys(findings))
    unique.sort(key=lambda f: SEVERITY_ORDER[f.severity])
    blocked = any(f.severity == "block" for f in unique)
    return Evaluation(
        billable=not blocked and bool(lines),
        charge_lines=lines,
        findings=tuple(unique),
        estimate=estimate,
        rules_version=rules.version,
    )
