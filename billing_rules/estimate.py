"""Estimate = the payer class's per-unit range x units, summed over the charge lines (not a price).

A figure is shown only where the rule data holds a sourced range for the code, payer class and date; otherwise
the estimate is ``None`` and an ``info`` finding says why and how a deployment loads its own fee schedule.
A CQ/CO line is paid at the modifier's payment factor (85% from 2022, billing-rules.md §8.4).
"""

from __future__ import annotations

from typing import cast

from billing_rules.loader import Entry
from billing_rules.model import ChargeLine, Estimate
from billing_rules.policy import Policy

GROUP_NOTE = " (group codes are billed per patient: a loaded range is per patient, per unit)"


def _void(entry: Entry, code: str, policy: Policy) -> bool:
    """A $0 range records "not paid": void once the payer policy (e.g. a contract) makes the code payable."""
    return bool(entry["high"] == 0 and code not in policy.payer.get("not_paid", ()))


def range_for(policy: Policy, code: str) -> Entry | None:
    """The range on file for the code, the payer class (and name) and the date; the last loaded wins.

    Memoised per rule set: the answer depends on the code, the payer class and name, the date and the payer's
    ``not_paid`` list alone, and the estimate table has an entry per code and year."""
    not_paid = tuple(policy.payer.get("not_paid", ()))
    key = ("range_for", policy.payer_class, (policy.payer_name or "").casefold(), policy.on, code, not_paid)
    return cast(Entry | None, policy.rules.lookup(key, lambda: _range_for(policy, code)))


def _range_for(policy: Policy, code: str) -> Entry | None:
    found = None
    for entry in policy.rules.entries("estimate"):
        if entry["payer_class"] != policy.payer_class or code not in entry["codes"]:
            continue
        if not entry["effective_from"] <= policy.on <= entry["effective_to"]:
            continue
        if _void(entry, code, policy):
            continue
        name = entry.get("payer_name")
        if name is None or (policy.payer_name and name.casefold() == policy.payer_name.casefold()):
            found = entry
    return found


def _factor(policy: Policy, line: ChargeLine) -> tuple[float, str]:
    """The payment factor of the line's modifiers in force on the date (CQ/CO: 0.85), and what to say."""
    key = ("payment_factor", policy.on, line.modifiers)
    return cast(tuple[float, str], policy.rules.lookup(key, lambda: _payment_factor(policy, line)))


def _payment_factor(policy: Policy, line: ChargeLine) -> tuple[float, str]:
    factor, said = 1.0, []
    for entry in policy.rules.entries("modifier"):
        in_force = entry["effective_from"] <= policy.on <= entry["effective_to"]
        if in_force and entry["modifier"] in line.modifiers and "payment_factor" in entry:
            factor *= entry["payment_factor"]
            said.append(f"{entry['modifier']} x{entry['payment_factor']:g}")
    return factor, f", {' '.join(said)}" if said else ""


def estimate_for(lines: tuple[ChargeLine, ...], policy: Policy) -> Estimate | None:
    """None when any line has no range on file for this payer class and date (no figure shown, a finding)."""
    if not lines:
        return None
    for line in lines:
        if range_for(policy, line.code) is None:
            _say_none(policy, line.code)
            return None
    # Memoised per rule set on what the figure depends on: the lines and the ranges (payer and date).
    not_paid = tuple(policy.payer.get("not_paid", ()))
    key = ("estimate", policy.payer_class, (policy.payer_name or "").casefold(), policy.on, not_paid, lines)
    return cast(Estimate, policy.rules.remember(key, lambda: _estimate(lines, policy)))


def _estimate(lines: tuple[ChargeLine, ...], policy: Policy) -> Estimate:
    low = high = 0.0
    bases: list[str] = []
    urls: list[str] = []
    for line in lines:
        entry = range_for(policy, line.code)
        assert entry is not None  # estimate_for checked every line
        factor, said = _factor(policy, line)
        low += entry["low"] * line.units * factor
        high += entry["high"] * line.units * factor
        checked = entry["checked"].isoformat()
        bases.append(f"{line.code} ({_period(entry)}; checked {checked}{said}): {entry['source']}")
        urls += entry.get("source_urls", ())
    return Estimate(
        payer_class=policy.payer_class,
        low=round(low, 2),
        high=round(high, 2),
        basis="; ".join(dict.fromkeys(bases)),
        basis_urls=tuple(dict.fromkeys(urls)),
    )


def _period(entry: Entry) -> str:
    """The years a range is on file for, as a reader says them: 2026, 2025-2026, from 2006."""
    start, end = entry["effective_from"].year, entry["effective_to"].year
    if end == 9999:
        return f"from {start}"
    return f"{start}" if start == end else f"{start}-{end}"


def _say_none(policy: Policy, code: str) -> None:
    """No range for this date: say once that none is loaded (ranges of other years are never used)."""
    note = GROUP_NOTE if policy.code.get("group_size", [1, 1]) != [1, 1] else ""
    payer = policy.payer_name or policy.payer_class
    policy.extra.append(policy.finding("estimate.not-loaded", line=code, payer=payer, note=note))
