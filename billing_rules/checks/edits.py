"""CMS edit tables: ncci.pair, mue.exceeded, ncci.not-checked (runs on the computed units)."""

from __future__ import annotations

from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy


def _same_day_codes(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[str]:
    own = set(context.own_identifiers)
    charged = [
        c.code
        for c in context.existing_charges
        if c.code and c.service_date == policy.on and not own & set(c.identifiers)
    ]
    return list(dict.fromkeys([*record.other_timed_minutes, *charged]))


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    tables = policy.rules.edit_tables
    mue = tables.mue_table(policy.on) if tables else None
    if tables is None:
        return []  # none loaded at all: `smart-edu rules status` says so, not every evaluation
    if not tables.ptp_loaded(policy.on) and mue is None:
        return [policy.finding("ncci.not-checked")]
    out = []
    others = [c for c in _same_day_codes(record, context, policy) if c not in policy.units]
    for code in policy.units:
        for other in others:
            edit = tables.ptp(code, other, policy.on)
            if edit is None:
                continue
            variant = "no-bypass" if edit.modifier == "0" else ""
            out.append(
                policy.finding(
                    "ncci.pair",
                    variant,
                    code=code,
                    col1=edit.column1,
                    col2=edit.column2,
                    other=other,
                    effective=edit.effective.isoformat(),
                )
            )
    for code, units in policy.units.items():
        limit = mue.get(code) if mue else None
        if limit is not None and units > limit.limit:
            variant = "line" if limit.mai == "1" else ""
            out.append(
                policy.finding(
                    "mue.exceeded", variant, code=code, units=units, limit=limit.limit, mai=limit.mai
                )
            )
    return out
