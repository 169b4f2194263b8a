"""The report's chart data: findings by rule, charges by clinician and by week, revenue at risk by rule.

Counted one charge at a time (ChartTally: one pass over the rows writes every report file) and laid out for
inline SVG (bars as x, y, width in pixels), so the page needs no script to draw them and the numbers are the
JSON's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

LABEL_WIDTH = 220
BAR_SPACE = 360
ROW = 24
TOP = 8
MAX_BARS = 15


@dataclass(frozen=True)
class Segment:
    series: str  # block | warn | risk
    x: float
    width: float
    value: float


@dataclass(frozen=True)
class Bar:
    label: str
    y: int
    segments: tuple[Segment, ...]
    total: float
    text: str  # the value as shown after the bar


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    bars: tuple[Bar, ...]
    height: int
    legend: tuple[str, ...]
    more: int  # rows left out (the chart shows the largest MAX_BARS)


def _chart(
    chart_id: str,
    title: str,
    rows: list[tuple[str, dict[str, float]]],
    legend: tuple[str, ...],
    money: bool = False,
) -> Chart:
    rows = [r for r in rows if sum(r[1].values()) > 0]
    shown = rows[:MAX_BARS]
    peak = max((sum(v.values()) for _, v in shown), default=0) or 1
    bars = []
    for i, (label, values) in enumerate(shown):
        x, segments = float(LABEL_WIDTH), []
        for series in legend:
            value = values.get(series, 0)
            if value:
                width = round(BAR_SPACE * value / peak, 1)
                segments.append(Segment(series, x, max(width, 1.0), value))
                x += width
        total = sum(values.values())
        text = f"${total:,.2f}" if money else f"{int(total):,}"
        bars.append(Bar(label, TOP + i * ROW, tuple(segments), total, text))
    parts = "; ".join(f"{b.label}: {b.text}" for b in bars) or "nothing to show"
    height = TOP * 2 + ROW * max(len(bars), 1)
    return Chart(chart_id, title, f"{title}. {parts}.", tuple(bars), height, legend, len(rows) - len(shown))


def _week(day: str | None) -> str:
    if not day:
        return "no date"
    parsed = date.fromisoformat(day)
    return (parsed - timedelta(days=parsed.weekday())).isoformat()


class ChartTally:
    """The charts' counts, fed one charge at a time: the report's rows are read once for all three files."""

    def __init__(self) -> None:
        self.by_rule: dict[str, Counter[str]] = defaultdict(Counter)  # every finding, by rule and severity
        self.by_clinician: dict[str, Counter[str]] = defaultdict(Counter)
        self.by_week: dict[str, Counter[str]] = defaultdict(Counter)
        self.risk: dict[str, float] = defaultdict(float)
        self.clinicians: set[str] = set()
        self.weeks: dict[str | None, str] = {}

    def add(self, charge: dict[str, Any]) -> str:
        """Count one charge; its status (block, warn or clean)."""
        status = "clean"
        for finding in charge["findings"]:
            severity = finding["severity"]
            self.by_rule[finding["rule"]][severity] += 1
            if severity == "block":
                status = "block"
            elif severity == "warn" and status == "clean":
                status = "warn"
        clinician = charge.get("clinician") or "not named"
        self.clinicians.add(clinician)
        if status != "clean":
            self.by_clinician[clinician][status] += 1
            day = charge["date"]
            week = self.weeks.get(day)
            if week is None:
                week = self.weeks[day] = _week(day)
            self.by_week[week][status] += 1
        if status == "block" and charge.get("estimate"):
            for rule in {f["rule"] for f in charge["findings"] if f["severity"] == "block"}:
                self.risk[rule] += charge["estimate"]["high"]
        return status

    def rule_table(self) -> list[tuple[str, int, int, int, int]]:
        """(rule, blocking, warning, info, all) for every rule found, the most blocking first."""
        rows = [(rule, c["block"], c["warn"], c["info"], sum(c.values())) for rule, c in self.by_rule.items()]
        return sorted(rows, key=lambda r: (-r[1], -r[2], -r[4], r[0]))

    def charts(self) -> list[Chart]:
        both = ("block", "warn")
        actionable: dict[str, dict[str, float]] = {
            rule: {s: n for s, n in c.items() if s in both} for rule, c in self.by_rule.items()
        }
        rule_rows = sorted(actionable.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        clinician_rows = sorted(self.by_clinician.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        week_rows = sorted(self.by_week.items())
        risk_rows: list[tuple[str, dict[str, float]]] = [
            (rule, {"risk": round(v, 2)})
            for rule, v in sorted(self.risk.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        return [
            _chart("by-rule", "Findings by rule (block and warn)", rule_rows, both),
            _chart(
                "by-clinician",
                "Charges with findings by clinician",
                [(k, dict(v)) for k, v in clinician_rows],
                both,
            ),
            _chart(
                "by-week",
                "Charges with findings by week (from Monday)",
                [(k, dict(v)) for k, v in week_rows],
                both,
            ),
            _chart(
                "at-risk",
                "Revenue at risk by blocking rule (estimate, high end)",
                risk_rows,
                ("risk",),
                money=True,
            ),
        ]


def charts(document: dict[str, Any]) -> list[Chart]:
    tally = ChartTally()
    for charge in document["charges"]:
        tally.add(charge)
    return tally.charts()
