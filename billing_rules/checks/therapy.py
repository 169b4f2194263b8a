"""Medicare-style therapy requirements: modifier.therapy, assistant.cq, kx.threshold, poc.uncertified."""

from __future__ import annotations

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


def _assistant(record: ServiceRecord, policy: Policy) -> list[Finding]:
    modifier = policy.modifier("assistant", policy.role)
    if not policy.payer.get("assistant_modifiers") or modifier is None:
        return []
    if policy.role in ASSISTANTS:
        share = "all"
    elif record.assistant_minutes and record.minutes and record.assistant_minutes * 10 > record.minutes:
        share = f"{record.assistant_minutes} of {record.minutes} minutes (more than 10%)"
    else:
        return []
    policy.modifiers.append(modifier)
    return [policy.finding("assistant.cq", share=share, modifier=modifier)]


def _kx(record: ServiceRecord, policy: Policy) -> list[Finding]:
    if not policy.payer.get("kx"):
        return []
    threshold = policy.dated("kx_threshold", "KX threshold")
    if threshold is None:
        return []
    amount = threshold["amount"]
    if record.therapy_ytd_allowed is None:
        return [policy.finding("kx.threshold", "unknown", threshold=f"{amount:,.0f}")]
    if record.therapy_ytd_allowed < amount:
        return []
    review = policy.dated("review_threshold", "targeted medical review threshold")
    note = ""
    if review is not None and record.therapy_ytd_allowed >= review["amount"]:
        note = f" Above ${review['amount']:,.0f} claims may be picked for targeted medical review."
    policy.modifiers.append(policy.modifier("threshold") or "KX")
    return [
        policy.finding(
            "kx.threshold",
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
    if policy.payer.get("plan_of_care") and record.plan_of_care_certified is not True:
        out.append(policy.finding("poc.uncertified"))
    return out
