"""Medicare-style therapy requirements: modifier.therapy, assistant.cq, kx.threshold, poc.uncertified."""

from __future__ import annotations

from billing_rules.estimate import range_for
from billing_rules.loader import Entry
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
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
    """CQ/CO when an assistant furnished more than 10% of a unit (rules-contract §2; CMS applies it per unit).

    The engine cannot tell which unit the assistant's minutes fell in, so any share above 10% of one unit puts
    the modifier on the line (never an unmarked assistant unit); the prompt says when a split line pays more.
    """
    modifier = policy.modifier("assistant", policy.role)
    if not policy.payer.get("assistant_modifiers") or modifier is None:
        return []
    if policy.role in ASSISTANTS:
        return _cq(policy, modifier, "all", "")
    unit = UNIT_MINUTES.get(policy.code["unit"]) or policy.code.get("first_minutes") or record.minutes
    helped = record.assistant_minutes
    if not helped or not unit or helped * 10 <= unit:
        return []
    share = f"{helped} of {record.minutes} minutes (more than 10% of a {unit}-minute unit)"
    units = sum(policy.units.values())
    split = ""
    if record.minutes and units > 1 and record.minutes - helped >= unit:
        split = (
            f" CMS applies the 10% test per unit: units the therapist furnished in full are paid without"
            f" {modifier}; bill them on a separate line without {modifier} if the minutes show it."
        )
    return _cq(policy, modifier, share, split)


def _cq(policy: Policy, modifier: str, share: str, split: str) -> list[Finding]:
    policy.modifiers.append(modifier)
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
    return out
