"""Units per code for one documented service, under the payer's unit method (pure)."""

from __future__ import annotations

from datetime import date

from billing_rules import units
from billing_rules.loader import Entry, RuleSet
from billing_rules.model import ServiceRecord

TIMED = frozenset({"timed-30", "timed-15", "caregiver-30", "rtm-management"})


def minutes_of(record: ServiceRecord, code: Entry) -> int | None:
    if code["unit"] == "rtm-management" and record.minutes is None and record.rtm is not None:
        return record.rtm.management_minutes
    return record.minutes


def fifteen_minute_pool(record: ServiceRecord, rules: RuleSet, on: date) -> dict[str, int]:
    """This code's minutes plus the other 15-minute timed codes of the day (known untimed codes left out)."""
    pool = {}
    for other, minutes in record.other_timed_minutes.items():
        entry = rules.code(other, on)
        if entry is None or entry["unit"] == "timed-15":
            pool[other] = minutes
    pool[record.code] = record.minutes or 0
    return pool


def compute_units(
    record: ServiceRecord, code: Entry, method: str, rules: RuleSet, on: date
) -> dict[str, int]:
    """Code -> units for the charge lines of this service (an add-on code appears beside its primary)."""
    kind = code["unit"]
    minutes = minutes_of(record, code)
    if kind in ("untimed", "rtm-device"):
        return {code["code"]: 1}
    if kind in ("em", "add-on") or minutes is None:
        return {}
    if kind == "timed-30":
        if method == "full-unit":
            return {code["code"]: units.full_units(minutes, 30)}
        return {code["code"]: units.midpoint_units(minutes, 30)}
    if kind == "timed-15":
        return {code["code"]: _fifteen(record, method, rules, on)}
    if kind == "caregiver-30":
        first, extra = units.caregiver_units(minutes, full=method == "full-unit")
        return _with_addon(code, first, extra)
    first, extra = units.rtm_management_units(minutes, code.get("first_minutes", 20))
    return _with_addon(code, first, extra)


def _fifteen(record: ServiceRecord, method: str, rules: RuleSet, on: date) -> int:
    pool = fifteen_minute_pool(record, rules, on)
    if method == "cms-total-minutes":
        return units.cms_total_minutes(pool)[record.code]
    if method == "full-unit":
        return units.full_units(pool[record.code], 15)
    return units.ama_per_code(pool)[record.code]


def _with_addon(code: Entry, first: int, extra: int) -> dict[str, int]:
    out = {code["code"]: first}
    if extra and code.get("addon"):
        out[code["addon"]] = extra
    return out
