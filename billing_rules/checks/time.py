"""Time: time.missing, time.below-minimum, code.add-on-only (units: billing_rules.lines)."""

from __future__ import annotations

from billing_rules.lines import TIMED, cms_tie_of, fifteen_minute_pool, minutes_of, pool_of, unit_values
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy
from billing_rules.units import fifteen_minute_units

METHOD_NEEDS = {
    ("timed-30", "full-unit"): "30 minutes for the first unit",
    ("timed-30", ""): "16 minutes for the first unit (midpoint rule)",
    ("timed-15", "cms-total-minutes"): "8 minutes in total across the day's 15-minute timed codes",
    ("timed-15", "ama-per-code"): "8 minutes of this code",
    ("timed-15", "full-unit"): "15 minutes of this code",
    ("timed-15-alone", ""): "8 minutes of this code (its units are not pooled with therapy)",
    ("caregiver-30", ""): "16 minutes for the first unit",
    ("caregiver-30", "full-unit"): "30 minutes for the first unit",
    ("rtm-management", ""): "{first} minutes in the calendar month",
}


def _pool_notes(record: ServiceRecord, policy: Policy) -> list[Finding]:
    """No unit is ever added silently: unknown codes block, known non-pooled codes are named."""
    if not record.other_timed_minutes:
        return []
    pool = pool_of(record, policy.rules, policy.on)
    out = []
    if pool.unknown:
        out.append(policy.finding("time.unknown-code", codes=", ".join(pool.unknown)))
    if pool.excluded and policy.code["unit"] == "timed-15":
        out.append(policy.finding("time.untimed-excluded", codes=", ".join(pool.excluded)))
    return out


def _tie(record: ServiceRecord, policy: Policy) -> list[Finding]:
    """The clinician may choose where a tied extra unit goes (CMS); say where the engine put it and why."""
    if (
        not record.other_timed_minutes
        or policy.code["unit"] != "timed-15"
        or policy.payer.get("unit_method") != "cms-total-minutes"
    ):
        return []  # a tie needs another timed code in the pool
    pool = pool_of(record, policy.rules, policy.on).minutes
    tie = cms_tie_of(pool, policy.rules, policy.on)
    if tie is None or policy.code["code"] not in tie[0]:
        return []
    tied, winner = tie
    values = unit_values(policy.rules, policy.on)
    valued = {c for c in tied if values.get(c)}
    why = (
        "the higher-valued code"
        if valued and values.get(winner)
        else "no fee values loaded: lower code number"
    )
    return [policy.finding("time.tie", codes=" and ".join(tied), winner=winner, why=why)]


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    return _pool_notes(record, policy) + _tie(record, policy) + _time(record, policy)


def _time(record: ServiceRecord, policy: Policy) -> list[Finding]:
    code = policy.code
    if code["unit"] == "add-on":
        return [policy.finding("code.add-on-only", primary=code.get("primary", ""))]
    if code["unit"] not in TIMED:
        return []
    minutes = minutes_of(record, code)
    if minutes is None:
        return [policy.finding("time.missing")]
    if policy.units.get(code["code"], 0) > 0:
        return []
    method = policy.payer.get("unit_method", "")
    need = METHOD_NEEDS.get((code["unit"], method)) or METHOD_NEEDS[(code["unit"], "")]
    need = need.format(first=code.get("first_minutes", ""))
    if (
        method == "cms-total-minutes"
        and code["unit"] == "timed-15"
        and fifteen_minute_units(sum(fifteen_minute_pool(record, policy.rules, policy.on).values()))
    ):
        need = "the day's pooled units go to the timed services with more minutes"
    default = "full-unit" if method == "full-unit" else "midpoint"
    shown_method = {
        "timed-15": method,
        "rtm-management": "monthly minimum",
        "timed-15-alone": "per code",
    }.get(code["unit"], default)
    hint = _shorter_code(policy, minutes)
    return [policy.finding("time.below-minimum", minutes=minutes, method=shown_method, need=need, hint=hint)]


def _shorter_code(policy: Policy, minutes: int) -> str:
    """A code of the same kind whose minimum these minutes do reach (e.g. 98979 for 10-19 RTM minutes)."""
    mine = policy.code
    for code in policy.rules.codes:
        entry = policy.rules.code(code, policy.on)
        if (
            entry is None
            or entry["unit"] != mine["unit"]
            or entry["group"] != mine["group"]
            or code == mine["code"]
        ):
            continue
        if 0 < entry.get("first_minutes", 0) <= minutes:
            return f" For {minutes} minutes, {code} may fit."
    return ""
