"""Estimate = the payer class's per-unit range x units, summed over the charge lines (not a price)."""

from __future__ import annotations

from billing_rules.loader import Entry
from billing_rules.model import ChargeLine, Estimate
from billing_rules.policy import Policy


def _range(policy: Policy, code: str) -> Entry | None:
    found = None
    for entry in policy.rules.entries("estimate"):
        if entry["payer_class"] != policy.payer_class or code not in entry["codes"]:
            continue
        if not entry["effective_from"] <= policy.on <= entry["effective_to"]:
            continue
        name = entry.get("payer_name")
        if name is None or (policy.payer_name and name.casefold() == policy.payer_name.casefold()):
            found = entry
    return found


def estimate_for(lines: tuple[ChargeLine, ...], policy: Policy) -> Estimate | None:
    """None when any line has no range on file for this payer class and date (no figure shown)."""
    if not lines:
        return None
    low = high = 0.0
    bases = []
    for line in lines:
        entry = _range(policy, line.code)
        if entry is None:
            _say_out_of_period(policy, line.code)
            return None
        low += entry["low"] * line.units
        high += entry["high"] * line.units
        bases.append(f"{line.code}: {entry['source']} (checked {entry['checked'].isoformat()})")
    return Estimate(payer_class=policy.payer_class, low=low, high=high, basis="; ".join(dict.fromkeys(bases)))


def _say_out_of_period(policy: Policy, code: str) -> None:
    """A range exists for this payer class and code, but not for this date: say so instead of going silent."""
    known = [e for e in policy.rules.entries("estimate") if e["payer_class"] == policy.payer_class]
    periods = [f"{e['effective_from']}..{e['effective_to']}" for e in known if code in e["codes"]]
    if periods:
        used = f"ranges on file: {', '.join(periods)}"
        label = f"{code} estimate range"
        policy.extra.append(policy.finding("rules.out-of-period", "estimate", table=label, used=used))
