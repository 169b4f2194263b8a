"""duplicate.charge: the same code, patient and date already charged (our own identifier = a retry)."""

from __future__ import annotations

from billing_rules.model import ClinicalContext, ExistingCharge, Finding, ServiceRecord
from billing_rules.policy import Policy

VOID = frozenset({"entered-in-error", "aborted"})


def _same_day(charge: ExistingCharge, context: ClinicalContext, policy: Policy) -> bool:
    """On the service date; an undated charge on this very encounter counts too (not known to differ)."""
    if charge.service_date is not None:
        return charge.service_date == policy.on
    here = context.encounter.id
    return here is not None and charge.encounter_id == here


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    same = [
        c
        for c in context.existing_charges
        if c.code == policy.code["code"] and _same_day(c, context, policy) and c.status not in VOID
    ]
    if not same:
        return []
    own = set(context.own_identifiers)
    ours = [c for c in same if own & set(c.identifiers)]
    others = [c for c in same if c not in ours]
    out = []
    if others:
        out.append(
            policy.finding("duplicate.charge", charges=", ".join(f"ChargeItem/{c.id}" for c in others))
        )
    if ours:
        ids = ", ".join(f"ChargeItem/{c.id}" for c in ours)
        out.append(policy.finding("duplicate.charge", "retry", charges=ids))
    return out
