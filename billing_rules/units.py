"""Pure time-unit calculators (billing-rules.md §7).

Which one applies is a payer setting (``unit_method``); these functions only do arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping

FIFTEEN = 15


def midpoint_units(minutes: int, unit_length: int = 30) -> int:
    """CPT midpoint rule: a unit is attained once its midpoint is passed (30-min code: 16, 46, 76 ...)."""
    first = unit_length // 2 + 1
    if minutes < first:
        return 0
    return 1 + (minutes - first) // unit_length


def full_units(minutes: int, unit_length: int = 30) -> int:
    """Payers that require the full unit length for every unit."""
    return max(0, minutes) // unit_length


def fifteen_minute_units(minutes: int) -> int:
    """8-minute table for a total (CMS) or one code (AMA): 8-22 = 1, 23-37 = 2 ... floor((m + 7) / 15)."""
    return max(0, minutes + 7) // FIFTEEN


def _ranked(minutes_by_code: Mapping[str, int], values: Mapping[str, float]) -> list[str]:
    """Codes with leftover minutes, best first: more leftover, more minutes, higher value, then code order."""
    return sorted(
        (c for c, m in minutes_by_code.items() if m > 0 and m % FIFTEEN),
        key=lambda c: (-(minutes_by_code[c] % FIFTEEN), -minutes_by_code[c], -values.get(c, 0.0), c),
    )


def cms_total_minutes(
    minutes_by_code: Mapping[str, int], values: Mapping[str, float] | None = None
) -> dict[str, int]:
    """CMS 8-minute rule over all 15-minute timed codes of a date, allocated per §7.2.

    Units come from the pooled total; each code keeps its whole 15-minute blocks and the remaining units go
    to the codes with the largest leftover minutes (ties: more total minutes, then the higher-valued code
    where ``values`` knows it, then code order; ``cms_tie`` says when the clinician may choose).
    """
    total = sum(m for m in minutes_by_code.values() if m > 0)
    units = fifteen_minute_units(total)
    alloc = {code: max(0, m) // FIFTEEN for code, m in minutes_by_code.items()}
    left = units - sum(alloc.values())
    for code in _ranked(minutes_by_code, values or {})[: max(0, left)]:
        alloc[code] += 1
    return alloc


def cms_tie(
    minutes_by_code: Mapping[str, int], values: Mapping[str, float] | None = None
) -> tuple[list[str], str] | None:
    """When the last extra unit fell between codes of equal leftover and total minutes: (tied, winner)."""
    total = sum(m for m in minutes_by_code.values() if m > 0)
    left = fifteen_minute_units(total) - sum(max(0, m) // FIFTEEN for m in minutes_by_code.values())
    ranked = _ranked(minutes_by_code, values or {})
    if left <= 0 or left >= len(ranked):
        return None
    last, first_out = ranked[left - 1], ranked[left]
    if minutes_by_code[last] != minutes_by_code[first_out]:
        return None
    tied = [c for c in ranked if minutes_by_code[c] == minutes_by_code[last]]
    return tied, last


def ama_per_code(minutes_by_code: Mapping[str, int]) -> dict[str, int]:
    """AMA per-code method: each code converted on its own, minutes are not pooled."""
    return {code: fifteen_minute_units(m) if m >= 8 else 0 for code, m in minutes_by_code.items()}


def caregiver_units(minutes: int, *, full: bool = False) -> tuple[int, int]:
    """97550 (first 30 min, from 16) and 97551 (each further 15, from 8 more): returns (97550, 97551)."""
    if full:
        if minutes < 30:
            return 0, 0
        return 1, (minutes - 30) // FIFTEEN
    if minutes < 16:
        return 0, 0
    extra = minutes - 30
    return 1, (fifteen_minute_units(extra) if extra >= 8 else 0)


def rtm_management_units(minutes: int, first_minutes: int) -> tuple[int, int]:
    """RTM treatment management: (primary, 98981 add-ons). 98979 needs 10 min, 98980 20; +1 per further 20."""
    if minutes < first_minutes:
        return 0, 0
    if first_minutes < 20:
        return 1, 0
    return 1, (minutes - 20) // 20
