"""A ChargeItem rebuilt into the ServiceRecord it bills: code, units, setting and diagnoses from the charge;
minutes, curriculum, topics and participants from the app's note where there is one.

Where the note gives no minutes, a timed code is checked with the minutes its billed units claim (a full unit
each): the claim's own assertion, not a guess; the scrub says so in ``scrub.minutes-undocumented``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from billing_rules.lines import TIMED
from billing_rules.loader import Entry, RuleSet
from billing_rules.model import ServiceRecord
from smart_app.scrub.notes import NoteFacts
from smart_app.scrub.patient import Charge

UNIT_MINUTES = {"timed-15": 15, "timed-30": 30}
TELEHEALTH_AUDIO = frozenset({"93", "FQ"})


def claimed_minutes(entry: Entry, units: int, addon_units: int) -> int | None:
    """The minutes the billed units stand for (a full unit each)."""
    kind = entry["unit"]
    if kind in UNIT_MINUTES:
        return UNIT_MINUTES[kind] * units
    if kind == "caregiver-30":
        return 30 + 15 * addon_units
    if kind == "rtm-management":
        first = int(entry.get("first_minutes", 20))
        return max(first, 20) + 20 * addon_units if addon_units else first
    return None


def minutes_of(
    charge: Charge, entry: Entry | None, note: NoteFacts | None, day_charges: Sequence[Charge]
) -> tuple[int | None, bool]:
    """(minutes, documented): the note's minutes where it gives them, else those the units claim."""
    documented = note.minutes_of(charge.code or "") if note else None
    if documented is not None:
        return documented, True
    if entry is None or entry["unit"] not in TIMED:
        return None, False
    addon = entry.get("addon")
    addon_units = sum(c.units or 1 for c in day_charges if addon and c.code == addon)
    return claimed_minutes(entry, charge.units or 1, addon_units), False


def setting(charge: Charge, rules: RuleSet, encounter_class: str | None) -> dict[str, str]:
    """Mode and location from the charge's place of service, else the encounter's class; {} when unknown."""
    key = ("scrub.setting", charge.pos, charge.modifiers, encounter_class)
    return dict(rules.lookup(key, lambda: _setting(charge, rules, encounter_class)))


def _setting(charge: Charge, rules: RuleSet, encounter_class: str | None) -> dict[str, str]:
    for entry in rules.entries("pos"):
        if charge.pos and entry["pos"] == charge.pos:
            if entry["mode"] == "telehealth":
                audio = TELEHEALTH_AUDIO & set(charge.modifiers or ())
                return {"mode": "audio-only" if audio else "video", "location": entry["location"]}
            return {"mode": "in-person", "location": entry["location"]}
    if encounter_class == "VR":
        return {"mode": "video", "location": "other"}
    if encounter_class == "HH":
        return {"mode": "in-person", "location": "home"}
    return {}


def service_record(
    charge: Charge,
    day: date,
    minutes: int | None,
    note: NoteFacts | None,
    ytd: float | None,
    place: dict[str, Any],
    pool: dict[str, int] | None = None,
) -> ServiceRecord:
    return ServiceRecord(
        other_timed_minutes=pool or {},
        code=charge.code or "",
        service_date=day,
        minutes=minutes,
        diagnoses=charge.diagnoses,
        therapy_ytd_allowed=ytd,
        curriculum=note.curriculum if note else None,
        topics=note.topics if note else (),
        patients_in_group=(note.patients_in_group or 1) if note else 1,
        caregiver_present=note.caregiver_present if note else None,
        patient_present=note.patient_present if note else True,
        **place,
    )
