"""Currency of the rule data: every year-bound period, what is in force on a date, and what runs out soon.

Pure functions over a RuleSet and the ICD-10-CM index (``rules=None`` uses ``default_rules()``). They back
``smart-edu rules status``, the readiness check (``expiring(as_of, 30)``) and a test that fails 60 days before
data in force today runs out, so the engine can never silently run out of a year again.

A *required* kind must have data for every date (a KX threshold, a telehealth list, an ICD-10-CM code set,
each
payer class's policy). An acknowledged gap (``[[data_gap]]``: the year's fact was searched for and could
not be
had) counts as known, not as data: the engine says "not checked for <year>" on such dates, ``missing``
lists it,
and ``rules status`` exits 1 while it is in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from billing_rules import icd10
from billing_rules.loader import Entry, RuleSet, default_rules

FOREVER = date(9999, 12, 31)


@dataclass(frozen=True)
class DataPeriod:
    """One period of one kind of rule data (a KX year, a code set, a telehealth window ...)."""

    kind: str
    label: str
    name: str
    start: date
    end: date
    source: str
    verified: bool = True
    required: bool = True
    gap: bool = False  # an acknowledged gap: no data could be had for this period
    partial: str = ""  # what a partial period covers (FY2027 ICD-10-CM: some categories)

    def covers(self, on: date) -> bool:
        return self.start <= on <= self.end

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "name": self.name,
            "start": self.start.isoformat(),
            "end": None if self.end == FOREVER else self.end.isoformat(),
            "source": self.source,
            "verified": self.verified,
            "required": self.required,
            "gap": self.gap,
            "partial": self.partial,
        }


def _money(e: Entry) -> str:
    return f"{e['effective_from'].year}: ${e['amount']:,.0f}"


def _codes(e: Entry) -> str:
    return f"{len(e['codes'])} codes"


def _dates(e: Entry) -> str:
    return f"{e['effective_from']}..{e['effective_to']}"


# table -> (label, required, how an entry is named)
TABLES: dict[str, tuple[str, bool, Callable[[Entry], str]]] = {
    "kx_threshold": ("Medicare KX threshold", True, _money),
    "review_threshold": ("Targeted medical review threshold", True, _money),
    "kx_unit_ceiling": ("KX unit ceiling", True, _money),
    "medicare_telehealth_list": ("Medicare Telehealth Services List", True, _codes),
    "pt_telehealth_window": ("PT/OT/SLP Medicare telehealth window (statute)", False, _dates),
    "estimate": ("Fee-schedule estimate", False, lambda e: f"{'/'.join(e['codes'][:3])} {e['payer_class']}"),
}


def _period(kind: str, label: str, required: bool, name: str, e: Entry) -> DataPeriod:
    return DataPeriod(
        kind=kind,
        label=label,
        name=name,
        start=e["effective_from"],
        end=e["effective_to"],
        source=e["source"],
        verified=e.get("verified", True),
        required=required,
    )


def _table_periods(rules: RuleSet) -> list[DataPeriod]:
    out = []
    for table, (label, required, namer) in TABLES.items():
        for e in rules.entries(table):
            # Each payer class's range for a code is its own series (a 2026 range is not followed by
            # another's).
            kind = f"estimate:{'/'.join(e['codes'])}:{e['payer_class']}" if table == "estimate" else table
            out.append(_period(kind, label, required, namer(e), e))
    for e in rules.entries("policy"):
        if "payer_name" not in e:
            kind = f"policy:{e['payer_class']}"
            out.append(_period(kind, f"Payer policy ({e['payer_class']})", True, "policy", e))
    for e in rules.entries("data_gap"):
        label = TABLES.get(e["table"], (e["label"], True, _dates))[0]
        gap = _period(e["table"], label, True, f"{_dates(e)}: not loaded", e)
        out.append(DataPeriod(**{**gap.__dict__, "gap": True, "verified": False}))
    return out


def _code_set_periods() -> list[DataPeriod]:
    out = []
    for s in icd10.code_sets():
        partial = f"{len(s.categories)} categories only" if s.partial else ""
        out.append(
            DataPeriod(
                "icd10cm", "ICD-10-CM code set", s.name, s.valid_from, s.valid_to, s.source, partial=partial
            )
        )
    return out


def _edit_table_periods(rules: RuleSet) -> list[DataPeriod]:
    """Loaded CMS NCCI/MUE tables; none loaded is not a period (``missing_optional`` names it)."""
    tables = rules.edit_tables
    if tables is None:
        return []
    out = []
    if tables.ptp_from is not None:
        source = ", ".join(f for f in tables.files if f.endswith(".txt")) or "PTP files"
        out.append(
            DataPeriod("ncci", "NCCI PTP edits", "loaded", tables.ptp_from, FOREVER, source, required=False)
        )
    starts = sorted(start for start, _ in tables.mue)
    for i, start in enumerate(starts):
        end = starts[i + 1] - timedelta(days=1) if i + 1 < len(starts) else FOREVER
        out.append(
            DataPeriod("mue", "MUE table", f"from {start}", start, end, "CMS MUE file", required=False)
        )
    return out


def data_periods(rules: RuleSet | None = None) -> list[DataPeriod]:
    """Every period of every kind, sorted by kind then start."""
    rules = rules or default_rules()
    periods = _table_periods(rules) + _code_set_periods() + _edit_table_periods(rules)
    return sorted(periods, key=lambda p: (p.kind, p.start, p.gap, p.name))


def in_force(as_of: date, rules: RuleSet | None = None) -> list[DataPeriod]:
    """The periods covering ``as_of`` (acknowledged gaps included, marked ``gap``)."""
    return [p for p in data_periods(rules) if p.covers(as_of)]


def _has_data(periods: list[DataPeriod], kind: str, on: date) -> bool:
    return any(p.kind == kind and not p.gap and p.covers(on) for p in periods)


def expiring(as_of: date, days: int = 90, rules: RuleSet | None = None) -> list[DataPeriod]:
    """Data in force on ``as_of`` that ends within ``days`` with no data of its kind the day after."""
    periods = data_periods(rules)
    horizon = as_of + timedelta(days=days)
    return [
        p
        for p in periods
        if not p.gap
        and p.covers(as_of)
        and p.end < horizon
        and not _has_data(periods, p.kind, p.end + timedelta(days=1))
    ]


def missing(as_of: date, rules: RuleSet | None = None) -> list[DataPeriod]:
    """Required kinds with no data on ``as_of``: the acknowledged gap, or a made-up 'no data' period."""
    periods = data_periods(rules)
    out = []
    for kind in dict.fromkeys(p.kind for p in periods if p.required):
        if _has_data(periods, kind, as_of):
            continue
        gap = next((p for p in periods if p.kind == kind and p.gap and p.covers(as_of)), None)
        label = next(p.label for p in periods if p.kind == kind)
        out.append(
            gap or DataPeriod(kind, label, "no data", as_of, as_of, "nothing loaded", False, True, True)
        )
    return out


def unknown_days(as_of: date, days: int, rules: RuleSet | None = None) -> list[tuple[str, date]]:
    """Required kinds with a day in [as_of, as_of + days] that neither data nor an acknowledged gap covers."""
    periods = data_periods(rules)
    out = []
    for kind in dict.fromkeys(p.kind for p in periods if p.required):
        mine = [p for p in periods if p.kind == kind]
        day = as_of
        while day <= as_of + timedelta(days=days):
            if not any(p.covers(day) for p in mine):
                out.append((kind, day))
                break
            end = max(p.end for p in mine if p.covers(day))
            if end == FOREVER:
                break
            day = end + timedelta(days=1)
    return out


def missing_optional(rules: RuleSet | None = None) -> list[str]:
    """Optional tables not loaded at all (said by ``rules status``; the engine says ``ncci.not-checked``)."""
    rules = rules or default_rules()
    tables = rules.edit_tables
    out = []
    if tables is None or tables.ptp_from is None:
        out.append("NCCI PTP edits (CMS practitioner PTP files): not loaded")
    if tables is None or not tables.mue:
        out.append("MUE table (CMS practitioner MUE file): not loaded")
    return out
