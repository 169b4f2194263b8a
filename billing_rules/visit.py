"""A visit: several services documented together, one signature (DESIGN.md §4 "Visit record").

``evaluate_visit`` reuses the single-service engine: each service is evaluated on its own, with the visit's
other services as its same-day codes, so the visit's timed services form the CMS total-minutes pool by
themselves and NCCI pairs are checked between them. What concerns the visit as a whole (the date, the payer,
the diagnoses, the plan of care, the therapy modifier, the edit tables...) is said once, with ``code`` null.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, cast

from billing_rules.engine import evaluate
from billing_rules.lines import TIMED
from billing_rules.loader import RuleSet, default_rules, pick
from billing_rules.model import (
    SEVERITY_ORDER,
    ChargeLine,
    ClinicalContext,
    Estimate,
    Evaluation,
    Finding,
    ServiceRecord,
)
from billing_rules.policy import payer_of

# Rules about what the services share; each is said once for the visit when several services raise it.
VISIT_SCOPE = frozenset(
    {
        "date.assumed",
        "rules.out-of-period",
        "ncci.not-checked",
        "payer.unknown",
        "provider.unknown",
        "patient.deceased",
        "dx.missing",
        "dx.invalid",
        "dx.not-billable",
        "dx.pointer-limit",
        "dx.needs-icd10",
        "dx.not-supporting",
        "poc.uncertified",
        "kx.threshold",
        "modifier.therapy",
        "telehealth.place-of-service",
        "estimate.not-loaded",
        "time.untimed-excluded",
        "benefit.hours",
        "benefit.not-accredited",
        "payer.authorization",
    }
)
_HOLE = "\x00"


@dataclass(frozen=True)
class VisitRecord:
    """The services of one visit, each carrying the visit-level values it did not set itself."""

    services: tuple[ServiceRecord, ...]

    def __post_init__(self) -> None:
        if not self.services:
            raise ValueError("a visit needs at least one service")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.services)

    @property
    def service_date(self) -> date | None:
        return next((s.service_date for s in self.services if s.service_date), None)


@dataclass(frozen=True)
class VisitFinding(Finding):
    """A Finding of a visit: ``code`` names the service it concerns, None for the visit as a whole."""

    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "code": self.code}


@dataclass(frozen=True)
class VisitEvaluation:
    """The Evaluation fields for the whole visit, plus one Evaluation per service in the given order."""

    billable: bool
    charge_lines: tuple[ChargeLine, ...]
    findings: tuple[VisitFinding, ...]
    estimate: Estimate | None
    rules_version: str
    services: tuple[Evaluation, ...]
    codes: tuple[str, ...]

    @property
    def blocked(self) -> bool:
        return any(f.severity == "block" for f in self.findings)

    def findings_by_severity(self) -> dict[str, list[VisitFinding]]:
        out: dict[str, list[VisitFinding]] = {"block": [], "warn": [], "info": []}
        for f in self.findings:
            out[f.severity].append(f)
        return out

    def findings_for(self, code: str | None) -> list[VisitFinding]:
        """What concerns one service (``None``: the visit as a whole)."""
        return [f for f in self.findings if f.code == code]

    def to_dict(self) -> dict[str, Any]:
        return {
            "billable": self.billable,
            "charge_lines": [c.to_dict() for c in self.charge_lines],
            "findings": [f.to_dict() for f in self.findings],
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "rules_version": self.rules_version,
            "services": [{"code": c, **e.to_dict()} for c, e in zip(self.codes, self.services, strict=True)],
        }


def service_records(visit: VisitRecord) -> tuple[ServiceRecord, ...]:
    """Each service with the visit's other services as its same-day codes (the CMS pool and NCCI pairs).

    Every other code enters with its minutes (0 when none): the engine's pool keeps only 15-minute timed
    codes, so an evaluation's minutes never count toward the timed total.
    """
    pools = same_day_pools([(s.code, s.minutes) for s in visit.services])
    # A caller that set the pools already (the scrub) keeps its records: replace() costs more than a check.
    return tuple(
        s if s.other_timed_minutes == pool else replace(s, other_timed_minutes=pool)
        for s, pool in zip(visit.services, pools, strict=True)
    )


def same_day_pools(services: list[tuple[str, int | None]]) -> list[dict[str, int]]:
    """Each service's ``other_timed_minutes``: the visit's other services, code -> minutes (0 when none)."""
    return [{c: m or 0 for j, (c, m) in enumerate(services) if j != i} for i in range(len(services))]


def evaluate_visit(
    visit: VisitRecord,
    context: ClinicalContext,
    *,
    as_of: date | None = None,
    rules: RuleSet | None = None,
) -> VisitEvaluation:
    """Check a whole visit: one Evaluation per service, and what the visit as a whole may bill (pure)."""
    rules = rules or default_rules()
    records = service_records(visit)
    on = visit.service_date or context.encounter.service_date or as_of or date.today()
    evaluations = [evaluate(r, context, as_of=as_of, rules=rules) for r in records]
    timed = _timed_total(visit, rules, on)
    initial = any((rules.code(code, on) or {}).get("eval_level") for code in visit.codes)
    evaluations = [
        _in_visit(ev, record, context, rules, on, initial=initial, timed=timed, billed_elsewhere=billed)
        for ev, record, billed in zip(evaluations, records, _billed_elsewhere(evaluations), strict=True)
    ]
    findings = _visit_findings(visit.codes, evaluations, rules)
    findings = _sorted(findings + _kx_together(visit, context, evaluations, rules, on))
    lines = tuple(line for ev in evaluations for line in ev.charge_lines)
    blocked = any(f.severity == "block" for f in findings)
    return VisitEvaluation(
        billable=not blocked and bool(lines),
        charge_lines=lines,
        findings=findings,
        estimate=_total(evaluations, rules),
        rules_version=rules.version,
        services=tuple(evaluations),
        codes=visit.codes,
    )


def timed_minutes(visit: VisitRecord, rules: RuleSet | None = None, on: date | None = None) -> dict[str, int]:
    """Minutes of the visit's timed services (any timed unit: 15-minute, 30-minute, caregiver), by code.

    The note's "total timed minutes"; untimed services (evaluations) count only in the total treatment time.
    """
    rules = rules or default_rules()
    on = on or visit.service_date or date.today()
    out = {}
    for s in visit.services:
        entry = rules.code(s.code, on)
        if s.minutes and (entry is None or entry["unit"] in TIMED):
            out[s.code] = s.minutes
    return out


def _timed_total(visit: VisitRecord, rules: RuleSet, on: date) -> int:
    """The CMS pool: minutes of the visit's 15-minute timed services."""
    return sum(
        s.minutes or 0 for s in visit.services if (rules.code(s.code, on) or {}).get("unit") == "timed-15"
    )


def _kx_together(
    visit: VisitRecord, context: ClinicalContext, evaluations: list[Evaluation], rules: RuleSet, on: date
) -> tuple[VisitFinding, ...]:
    """Each service checks the KX threshold with its own lines; the visit's lines together may cross it even
    when no single one does. The ceiling: the visit's loaded estimate, else the per-unit bound x its units."""
    first = visit.services[0]
    ytd = first.therapy_ytd_allowed
    said = any(f.rule == "kx.threshold" and f.severity != "info" for ev in evaluations for f in ev.findings)
    lines = [line for ev in evaluations for line in ev.charge_lines]
    if ytd is None or said or len(evaluations) < 2 or not lines:
        return ()
    name = context.payer.name if first.payer_class in (None, context.payer.payer_class) else None
    if not rules.policy(payer_of(first, context), name, on)[0].get("kx"):
        return ()
    threshold, unit = pick(rules.entries("kx_threshold"), on), pick(rules.entries("kx_unit_ceiling"), on)
    total = _total(evaluations, rules)
    if total is not None:
        ceiling, basis = total.high, "the loaded estimates"
    elif unit is not None:
        units = sum(line.units for line in lines)
        ceiling, basis = unit["amount"] * units, f"at most ${unit['amount']:,.0f} a unit"
    else:
        return ()
    if threshold is None or ytd >= threshold["amount"] or ytd + ceiling < threshold["amount"]:
        return ()
    entry = rules.registry[("kx.threshold", "may-cross-visit")]
    values = {
        "ytd": f"{ytd:,.2f}",
        "line": f"{ceiling:,.2f}",
        "basis": basis,
        "threshold": f"{threshold['amount']:,.0f}",
        "year": threshold["effective_from"].year,
    }
    finding = VisitFinding(
        rule="kx.threshold",
        severity=entry["severity"],
        message=entry["message"].format_map(values),
        prompt=entry["prompt"].format_map(values),
        field=entry["field"],
        source=entry["source"],
        source_urls=tuple(entry.get("source_urls", ())),
        code=None,
    )
    return (finding,)


def _billed_elsewhere(evaluations: list[Evaluation]) -> list[bool]:
    return [
        any(ev.charge_lines for j, ev in enumerate(evaluations) if j != i) for i in range(len(evaluations))
    ]


def _in_visit(
    ev: Evaluation,
    record: ServiceRecord,
    context: ClinicalContext,
    rules: RuleSet,
    on: date,
    *,
    initial: bool,
    timed: int,
    billed_elsewhere: bool,
) -> Evaluation:
    """A service as part of its visit: an initial evaluation creates the plan of care, so nothing on its visit
    waits for a certified plan; timed minutes that reach no unit of their own (the CMS pool gave the units to
    services with more minutes, or the payer converts each code alone) are recorded, not blocked, when other
    services of the visit bill."""
    findings = list(ev.findings)
    # A code the catalogue does not know is a service of this visit, blocked on its own (rules.not-evaluated);
    # the other services' units never counted it, so they need not repeat the block.
    findings = [f for f in findings if f.rule != "time.unknown-code"]
    if initial:
        findings = [f for f in findings if f.rule != "poc.uncertified"]
    if billed_elsewhere and not ev.charge_lines and record.minutes:
        method = _unit_method(record, context, rules, on)
        variant = "in-visit" if method == "cms-total-minutes" else "in-visit-alone"
        values = {"code": record.code, "minutes": record.minutes, "total": timed}
        findings = [
            _reworded(f, rules, variant, values) if f.rule == "time.below-minimum" else f for f in findings
        ]
    if findings == list(ev.findings):
        return ev
    blocked = any(f.severity == "block" for f in findings)
    return replace(ev, findings=tuple(findings), billable=not blocked and bool(ev.charge_lines))


def _unit_method(record: ServiceRecord, context: ClinicalContext, rules: RuleSet, on: date) -> str:
    payer_class = payer_of(record, context)
    name = context.payer.name if record.payer_class in (None, context.payer.payer_class) else None
    return str(rules.policy(payer_class, name, on)[0].get("unit_method", ""))


def _reworded(finding: Finding, rules: RuleSet, variant: str, values: dict[str, Any]) -> Finding:
    entry = rules.registry.get((finding.rule, variant))
    if entry is None:
        return finding
    return replace(
        finding,
        severity=entry["severity"],
        message=entry["message"].format_map(values),
        prompt=entry["prompt"].format_map(values),
        source=entry["source"],
        source_urls=tuple(entry.get("source_urls", ())),
    )


def _visit_findings(
    codes: tuple[str, ...], evaluations: list[Evaluation], rules: RuleSet
) -> tuple[VisitFinding, ...]:
    """Per-service findings keep their code; a visit-scope finding raised by several services is said once.

    Memoised on the services' codes and findings (all immutable): a clinic's visits repeat the same few."""
    key = ("visit-findings", codes, tuple(ev.findings for ev in evaluations))
    return cast(
        tuple[VisitFinding, ...], rules.remember(key, lambda: _merged_findings(codes, evaluations, rules))
    )


def _merged_findings(
    codes: tuple[str, ...], evaluations: list[Evaluation], rules: RuleSet
) -> tuple[VisitFinding, ...]:
    groups: dict[tuple[Any, ...], list[tuple[str, Finding]]] = {}
    for code, ev in zip(codes, evaluations, strict=True):
        for f in ev.findings:
            groups.setdefault(_key(code, f), []).append((code, f))
    out = [_merge(members, rules) for members in groups.values()]
    return _sorted(tuple(out))


def _sorted(findings: tuple[VisitFinding, ...]) -> tuple[VisitFinding, ...]:
    return tuple(sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity]))


def _key(code: str, f: Finding) -> tuple[Any, ...]:
    if f.rule == "ncci.pair":  # both codes of a pair raise it; the prompt names the pair the same way
        return (f.rule, f.severity, f.prompt)
    if f.rule not in VISIT_SCOPE:
        return (code, f)
    return (f.rule, f.severity, f.field, f.message.replace(code, _HOLE), f.prompt.replace(code, _HOLE))


def _merge(members: list[tuple[str, Finding]], rules: RuleSet) -> VisitFinding:
    code, first = members[0]
    codes = list(dict.fromkeys(c for c, _ in members))
    if len(codes) == 1 or first.rule == "ncci.pair":
        return VisitFinding(**vars(first), code=code)
    named = _join(codes)
    message, prompt = first.message.replace(code, _HOLE), first.prompt.replace(code, _HOLE)
    wording = rules.registry.get((first.rule, "visit"))
    if wording is not None and _HOLE in message:
        message = wording["message"].format_map({"codes": named})
    fields = vars(first) | {"message": message.replace(_HOLE, named), "prompt": prompt.replace(_HOLE, named)}
    return VisitFinding(**fields, code=None)


def _join(codes: list[str]) -> str:
    return codes[0] if len(codes) == 1 else f"{', '.join(codes[:-1])} and {codes[-1]}"


def _total(evaluations: list[Evaluation], rules: RuleSet) -> Estimate | None:
    """The visit's total: the sum of its services' estimates; none when any charged service has none."""
    parts = [ev.estimate for ev in evaluations if ev.charge_lines]
    if not parts or any(p is None for p in parts):
        return None
    known = tuple(p for p in parts if p is not None)
    if len(known) == 1:
        return known[0]
    return cast(Estimate, rules.remember(("visit-total", known), lambda: _summed(known)))  # immutable parts


def _summed(known: tuple[Estimate, ...]) -> Estimate:
    return Estimate(
        payer_class=known[0].payer_class,
        low=round(sum(p.low for p in known), 2),
        high=round(sum(p.high for p in known), 2),
        currency=known[0].currency,
        basis="; ".join(dict.fromkeys(p.basis for p in known if p.basis)),
        basis_urls=tuple(dict.fromkeys(u for p in known for u in p.basis_urls)),
    )
