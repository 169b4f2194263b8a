"""Scrub one patient: charges grouped by day into visits, in date order so the year's therapy total (KX)
grows visit by visit; only charges inside the period are reported, earlier ones still count for the total."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Any

import orjson

from billing_rules.loader import RuleSet, pick
from smart_app.scrub.errors import ScrubInputError
from smart_app.scrub.findings import scrub_finding
from smart_app.scrub.patient import VOID, Charge, PatientData, map_patient, provider_of
from smart_app.scrub.visit import Scored, VisitScrub, is_therapy


@dataclass(frozen=True)
class Period:
    since: date | None = None
    until: date | None = None

    def holds(self, day: date | None) -> bool:
        if day is None:
            return True  # an undated charge is always shown: the biller must date it
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)


@dataclass
class YearTotal:
    """The year's therapy allowed amounts so far (the KX accumulation), from the charges' estimates.

    A charge with no estimate makes the total unknown (None to the engine, which then asks for it) unless the
    known part alone already reaches the KX threshold: a lower bound is never passed off as the total.
    """

    known: float = 0.0
    complete: bool = True

    def add(self, estimate: tuple[float, float] | None) -> None:
        if estimate is None:
            self.complete = False
        else:
            self.known += estimate[0]

    def value(self, rules: RuleSet, on: date) -> float | None:
        if self.complete:
            return round(self.known, 2)
        threshold = pick(rules.entries("kx_threshold"), on)
        if threshold is not None and self.known >= threshold["amount"]:
            return round(self.known, 2)
        return None


def _day(charge: Charge, data: PatientData) -> date | None:
    if charge.occurrence:
        return charge.occurrence
    encounter = data.encounters.get(charge.encounter_id or "")
    return encounter.service_date if encounter else None


def scrub_patient(
    data: PatientData, shared: dict[str, Any], rules: RuleSet, period: Period
) -> list[dict[str, Any]]:
    live = [c for c in data.charges if c.status not in VOID]
    dated = sorted(((d, c) for c in live if (d := _day(c, data))), key=lambda p: (p[0], p[1].id))
    out: list[Scored] = []
    for charge in (c for c in live if _day(c, data) is None):
        provider = provider_of(charge.performer, shared)
        found = scrub_finding(rules, "scrub.date-missing", code=charge.code or charge.found_codes)
        out.append(Scored(charge, None, [found], False, None, provider))
    ytd: dict[int, YearTotal] = {}
    for day, group in groupby(dated, key=lambda p: p[0]):
        charges = [c for _, c in group]
        total = ytd.setdefault(day.year, YearTotal())
        scored = VisitScrub(data, shared, rules, day).run(charges, total.value(rules, day))
        for item in scored:
            entry = rules.code(item.charge.code, day) if item.charge.code else None
            if is_therapy(entry, item.provider) and not item.addon:
                total.add(item.estimate)
        out.extend(s for s in scored if period.holds(day))
    patient_id = data.patient.id or ""
    return [s.to_dict(patient_id) for s in out]


def scrub_lines(
    patient_id: str, lines: Iterable[bytes], shared: dict[str, Any], rules: RuleSet, period: Period
) -> list[dict[str, Any]]:
    """From one patient's raw NDJSON lines (already validated by the index pass) to report rows."""
    raw = list(lines)
    try:  # one parse of the patient's lines as a JSON array: faster than line by line
        resources = orjson.loads(b"[" + b",".join(raw) + b"]") if raw else []
    except orjson.JSONDecodeError:
        raise ScrubInputError(f"the export changed while it was read (patient {patient_id})") from None
    return scrub_patient(map_patient(patient_id, resources), shared, rules, period)
