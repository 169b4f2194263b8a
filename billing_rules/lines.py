"""Units per code for one documented service, under the payer's unit method (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import cast

from billing_rules import units
from billing_rules.loader import Entry, RuleSet
from billing_rules.model import ServiceRecord

TIMED = frozenset({"timed-30", "timed-15", "timed-15-alone", "caregiver-30", "rtm-management"})


def minutes_of(record: ServiceRecord, code: Entry) -> int | None:
    if code["unit"] == "rtm-management" and record.minutes is None and record.rtm is not None:
        return record.rtm.management_minutes
    return record.minutes


@dataclass(frozen=True)
class Pool:
    """The CMS 15-minute pool of a service, and what was kept out of it (never a silent unit)."""

    minutes: dict[str, int]
    unknown: tuple[str, ...]  # codes the catalogue does not know: kept out, the service is blocked
    excluded: tuple[str, ...]  # known codes with minutes that are not 15-minute timed therapy: kept out


def pool_of(record: ServiceRecord, rules: RuleSet, on: date) -> Pool:
    """This code's minutes plus the day's other 15-minute timed codes; unknown and untimed codes kept out.

    Shared by the single service and the visit (whose services are each other's ``other_timed_minutes``).
    Memoised per rule set: units, time and tie checks all ask for it.
    """
    key = ("pool", record.code, record.minutes, tuple(record.other_timed_minutes.items()), on)
    return cast(Pool, rules.lookup(key, lambda: _pool(record, rules, on)))


def _pool(record: ServiceRecord, rules: RuleSet, on: date) -> Pool:
    pool, unknown, excluded = {}, [], []
    for other, minutes in record.other_timed_minutes.items():
        entry = rules.code(other, on)
        if entry is None:
            unknown.append(other)
        elif entry["unit"] == "timed-15":
            pool[other] = minutes
        elif minutes > 0:
            excluded.append(other)
    pool[record.code] = record.minutes or 0
    return Pool(pool, tuple(unknown), tuple(excluded))


def fifteen_minute_pool(record: ServiceRecord, rules: RuleSet, on: date) -> dict[str, int]:
    """The pooled minutes only (see ``pool_of``; a copy, so callers may change it)."""
    return dict(pool_of(record, rules, on).minutes)


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
    if kind == "timed-15-alone":  # its own 15-minute units, never pooled with therapy (MNT)
        return {code["code"]: units.ama_per_code({code["code"]: minutes})[code["code"]]}
    if kind == "caregiver-30":
        first, extra = units.caregiver_units(minutes, full=method == "full-unit")
        return _with_addon(code, first, extra)
    first, extra = units.rtm_management_units(minutes, code.get("first_minutes", 20))
    return _with_addon(code, first, extra)


def unit_values(rules: RuleSet, on: date) -> dict[str, float]:
    """Per-unit Medicare values on file for the date (the high end of a loaded range): tie-break by value."""
    key = ("unit_values", on)
    return dict(rules.lookup(key, lambda: _unit_values(rules, on)))


def _unit_values(rules: RuleSet, on: date) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in rules.entries("estimate"):
        if (
            e["payer_class"] == "medicare"
            and e["effective_from"] <= on <= e["effective_to"]
            and e["high"] > 0
        ):
            for code in e["codes"]:
                out[code] = max(out.get(code, 0.0), float(e["high"]))
    return out


def cms_allocation(pool: dict[str, int], rules: RuleSet, on: date) -> dict[str, int]:
    """``units.cms_total_minutes`` with the values on file, memoised per rule set (the same few pools recur
    across a clinic's visits); callers only read the answer."""
    key = ("cms-total-minutes", frozenset(pool.items()), on)
    return cast(
        dict[str, int], rules.lookup(key, lambda: units.cms_total_minutes(pool, unit_values(rules, on)))
    )


def cms_tie_of(pool: dict[str, int], rules: RuleSet, on: date) -> tuple[list[str], str] | None:
    """``units.cms_tie`` with the values on file, memoised like ``cms_allocation``."""
    key = ("cms-tie", frozenset(pool.items()), on)
    found = rules.lookup(key, lambda: units.cms_tie(pool, unit_values(rules, on)))
    return cast(tuple[list[str], str] | None, found)


def _fifteen(record: ServiceRecord, method: str, rules: RuleSet, on: date) -> int:
    pool = fifteen_minute_pool(record, rules, on)
    if method == "cms-total-minutes":
        return cms_allocation(pool, rules, on)[record.code]
    if method == "full-unit":
        return units.full_units(pool[record.code], 15)
    return units.ama_per_code(pool)[record.code]


def _with_addon(code: Entry, first: int, extra: int) -> dict[str, int]:
    out = {code["code"]: first}
    if extra and code.get("addon"):
        out[code["addon"]] = extra
    return out
