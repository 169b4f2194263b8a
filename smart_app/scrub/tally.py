"""The report's summary, counted as rows are added (DESIGN.md §4, scrub.json ``summary``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smart_app.scrub.engine import Period


@dataclass
class Tally:
    """Counts, revenue at risk (blocked charges' estimates) and findings by rule over the rows seen."""

    charges: int = 0
    billable: int = 0
    blocked: int = 0
    warned: int = 0
    low: float = 0.0
    high: float = 0.0
    by_rule: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None

    @classmethod
    def of(cls, rows: Iterable[dict[str, Any]]) -> Tally:
        tally = cls()
        for row in rows:
            tally.add(row)
        return tally

    def add(self, row: dict[str, Any]) -> None:
        self.charges += 1
        self.billable += bool(row["billable"])
        severities = {f["severity"] for f in row["findings"]}
        self.by_rule.update(f["rule"] for f in row["findings"])
        if "block" in severities:
            self.blocked += 1
            if row.get("estimate"):
                self.low += row["estimate"]["low"]
                self.high += row["estimate"]["high"]
        elif "warn" in severities:
            self.warned += 1
        day = row["date"]
        if day:
            self.first = day if self.first is None else min(self.first, day)
            self.last = day if self.last is None else max(self.last, day)

    def summary(self, period: Period, rules_version: str) -> dict[str, Any]:
        return {
            "charges": self.charges,
            "billable": self.billable,
            "blocked": self.blocked,
            "warned": self.warned,
            "at_risk": {"currency": "USD", "low": round(self.low, 2), "high": round(self.high, 2)},
            "by_rule": dict(sorted(self.by_rule.items())),
            "period": [
                period.since.isoformat() if period.since else self.first,
                period.until.isoformat() if period.until else self.last,
            ],
            "rules_version": rules_version,
        }
