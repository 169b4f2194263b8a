"""Medicare-style therapy requirements: modifier.therapy, assistant.cq, kx.threshold, poc.uncertified,
poc.progress-report, poc.recert."""

from __future__ import annotations

from datetime import date

from billing_rules.estimate import range_for
from billing_rules.loader import Entry
from billing_rules.model import CarePlanInfo, ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import ASSISTANTS, Policy

DISCIPLINE_NAMES = {"GP": "physical therapy", "GO": "occupational therapy"}


def _discipline(policy: Policy) -> list[Finding]:
    modifier = policy.modifier("discipline", policy.role)
    if modifier is None:
        if policy.code["therapy"] == "always":
            return [policy.finding("modifier.therapy", "unknown-discipline")]
        return []
    policy.modifiers.append(modifier)
    discipline = DISCIPLINE_NAMES.get(modifier, modifier)
    return [policy.finding("modifier.therapy", modifier=modifier, discipline=discipline)]


UNIT_MINUTES = {"timed-15": 15, "timed-30": 30, "caregiver-30": 30}


def _assistant(record: ServiceRecord, policy: Policy) -> list[Finding]:
    """CQ/CO per unit, as CMS applies the 10% de minimis test (rules-contract §2, billing-rules.md §8.4).

    A PTA/OTA rendering: every unit. Otherwise the therapist's own minutes make whole units without the
    modifier (as many as they fill, at most the line's units); the remaining units carry it when the
    assistant's minutes are more than 10% of them. ``policy.assistant_units`` says how many units of each
    line carry it.
    """
    modifier = policy.modifier("assistant", policy.role)
    if not policy.payer.get("assistant_modifiers") or modifier is None:
        return []
    code = policy.code["code"]
    units = policy.units.get(code, 0)
    if policy.role in ASSISTANTS:
        return _cq(policy, modifier, "all", units, units)
    unit = UNIT_MINUTES.get(policy.code["unit"]) or policy.code.get("first_minutes") or record.minutes
    helped = record.assistant_minutes
    if not helped or not unit or not units or not record.minutes:
        return []
    own_units = min(units, (record.minutes - helped) // unit) if policy.code["unit"] != "untimed" else 0
    marked = units - own_units
    span = unit * marked if policy.code["unit"] != "untimed" else record.minutes
    if marked <= 0 or helped * 10 <= span:
        return []
    share = f"{helped} of {record.minutes} minutes (more than 10% of the units they fall in)"
    return _cq(policy, modifier, share, marked, units)


def _cq(policy: Policy, modifier: str, share: str, marked: int, units: int) -> list[Finding]:
    policy.assistant_units[policy.code["code"]] = (modifier, marked)
    split = (
        f" {marked} of {units} units carry {modifier}; the therapist's own {units - marked} are billed on a"
        f" separate line without it."
        if 0 < marked < units
        else ""
    )
    return [policy.finding("assistant.cq", share=share, modifier=modifier, split=split)]


def _line_ceiling(policy: Policy) -> tuple[float, str] | None:
    """Most this service's lines may add to the year's total: the estimate's high end, else a unit ceiling."""
    total, basis = 0.0, "the loaded estimate"
    for code, units in policy.units.items():
        entry = range_for(policy, code)
        if entry is None:
            ceiling = policy.dated("kx_unit_ceiling", "KX unit ceiling")
            if ceiling is None:
                return None
            entry, basis = ceiling, f"at most ${ceiling['amount']:,.0f} a unit"
            total += entry["amount"] * units
        else:
            total += entry["high"] * units
    return total, basis


def _may_cross(record: ServiceRecord, policy: Policy, threshold: Entry) -> list[Finding]:
    """Below the threshold: warn when this service may take the year's total past it (KX then needed)."""
    assert record.therapy_ytd_allowed is not None
    amount, year = threshold["amount"], threshold["effective_from"].year
    ceiling = _line_ceiling(policy)
    if ceiling is None or record.therapy_ytd_allowed + ceiling[0] < amount:
        return []
    return [
        policy.finding(
            "kx.threshold",
            "may-cross",
            cites=threshold,
            ytd=f"{record.therapy_ytd_allowed:,.2f}",
            line=f"{ceiling[0]:,.2f}",
            basis=ceiling[1],
            threshold=f"{amount:,.0f}",
            year=year,
        )
    ]


def _kx(record: ServiceRecord, policy: Policy) -> list[Finding]:
    if not policy.payer.get("kx"):
        return []
    threshold = policy.dated("kx_threshold", "KX threshold")
    if threshold is None:
        return []
    amount = threshold["amount"]
    if record.therapy_ytd_allowed is None:
        return [policy.finding("kx.threshold", "unknown", cites=threshold, threshold=f"{amount:,.0f}")]
    if record.therapy_ytd_allowed < amount:
        return _may_cross(record, policy, threshold)
    review = policy.dated("review_threshold", "targeted medical review threshold")
    note = ""
    if review is not None and record.therapy_ytd_allowed >= review["amount"]:
        note = f" Above ${review['amount']:,.0f} claims may be picked for targeted medical review."
    policy.modifiers.append(policy.modifier("threshold") or "KX")
    return [
        policy.finding(
            "kx.threshold",
            cites=threshold,
            ytd=f"{record.therapy_ytd_allowed:,.2f}",
            threshold=f"{amount:,.0f}",
            year=threshold["effective_from"].year,
            review=note,
        )
    ]


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    if not policy.therapy_applies:
        return []
    out = []
    if policy.payer.get("therapy_modifiers"):
        out += _discipline(policy)
    out += _assistant(record, policy)
    out += _kx(record, policy)
    # An initial evaluation creates the plan of care, so it is never "without a certified plan".
    initial = policy.code.get("eval_level") is not None
    if policy.payer.get("plan_of_care") and record.plan_of_care_certified is not True and not initial:
        out.append(policy.finding("poc.uncertified"))
    if policy.payer.get("plan_of_care"):
        out += plan_timing(record, context, policy)
    return out


PROGRESS_EVERY = 10  # treatment days (Benefit Policy Manual ch. 15 §220.3)
CERTIFIED_DAYS = 90  # calendar days a plan is certified for at most (§220.1.3)


def care_plan_in_force(context: ClinicalContext, on: date) -> CarePlanInfo | None:
    """The EHR's active plan of care that started on or before the service date (the latest such)."""
    plans = [
        p
        for p in context.care_plans
        if p.status in (None, "active", "completed") and p.intent in (None, "plan", "order")
        if p.start is not None and p.start <= on
    ]
    return max(plans, key=lambda p: p.start or on, default=None)


def plan_timing(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    """A progress report at least every 10 treatment days; recertification at 90 days or on a plan change.

    The plan's start is the service record's, else the EHR CarePlan's in force on the date; a CarePlan whose
    period ended before the service also needs recertification.
    """
    out = []
    day = record.treatment_days_since_progress_report
    if day is not None and day >= PROGRESS_EVERY:
        out.append(policy.finding("poc.progress-report", day=day))
    plan = care_plan_in_force(context, policy.on)
    start = record.plan_of_care_start or (plan.start if plan else None)
    if (
        plan is not None
        and record.plan_of_care_start is None
        and plan.end is not None
        and plan.end < policy.on
    ):
        why = f"(CarePlan/{plan.id}) ended on {plan.end.isoformat()}, before this visit"
        out.append(policy.finding("poc.recert", why=why))
    elif start is not None and (policy.on - start).days >= CERTIFIED_DAYS:
        days = (policy.on - start).days
        why = f"was certified from {start.isoformat()}, {days} days before this visit (at most 90)"
        out.append(policy.finding("poc.recert", why=why))
    elif record.plan_of_care_changed is True:
        out.append(policy.finding("poc.recert", why="changed since it was certified"))
    return out
