"""What each row of the visit grid bills, and how the timed minutes became units, in the clinician's words.

Read from the engine's answer (charge lines per service) and the payer's unit method in the rule data; it
computes nothing the engine did not: the page only says it ("47 timed minutes: 97112 × 2, 97110 × 1").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import billing_rules
from billing_rules.model import ClinicalContext
from smart_app.point_of_care.evaluation import Check, RowCheck

TIMED = "timed-15"
METHODS = {
    "cms-total-minutes": (
        "Medicare's total-minutes rule (the 8-minute rule)",
        "The minutes of every 15-minute timed service of the visit are added; the total gives the units"
        " (8–22 minutes = 1, 23–37 = 2, 38–52 = 3, 53–67 = 4 …), and the units go to the services that took"
        " the most minutes. A service with too few minutes for a unit of its own stays in the note and in"
        " the total.",
    ),
    "ama-per-code": (
        "the per-service rule (AMA)",
        "Each timed service is counted on its own (8–22 minutes = 1 unit, 23–37 = 2 …); the minutes of "
        "different services are not added together.",
    ),
    "full-unit": (
        "the full-unit rule",
        "Each unit needs its full length of time; minutes short of a full unit are not billed.",
    ),
}


@dataclass(frozen=True)
class Allocation:
    """The visit's timed minutes and the units each timed service received."""

    total_minutes: int
    parts: tuple[tuple[str, int], ...]  # (code, units), in row order
    method: str
    explanation: str
    source: str
    source_urls: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.total_minutes} timed minutes: " + ", ".join(f"{c} × {u}" for c, u in self.parts)


def units_of(result: Check, code: str) -> int:
    """The units the visit bills for one code (0 when it has no line)."""
    lines = result.evaluation.charge_lines if result.evaluation else ()
    return sum(line.units for line in lines if line.code == code)


def allocation(result: Check, context: ClinicalContext) -> Allocation | None:
    """The timed minutes' allocation, when the visit has a timed 15-minute service with minutes."""
    if result.visit is None or result.evaluation is None:
        return None
    timed = [
        (r, s)
        for r, s in zip(_coded(result.rows), result.visit.services, strict=False)
        if r.choice is not None and r.choice.unit_type == TIMED and s.minutes
    ]
    if not timed:
        return None
    first = result.visit.services[0]
    on = first.service_date or context.encounter.service_date or date.today()
    payer_class = first.payer_class or context.payer.payer_class
    policy, _ = billing_rules.default_rules().policy(payer_class, context.payer.name, on)
    method = str(policy.get("unit_method") or "")
    name, explanation = METHODS.get(method, ("the payer's rule", ""))
    return Allocation(
        total_minutes=sum(s.minutes or 0 for _, s in timed),
        parts=tuple((r.row.code, units_of(result, r.row.code)) for r, _ in timed),
        method=name,
        explanation=explanation,
        source=str(policy.get("source") or ""),
        source_urls=tuple(policy.get("source_urls") or ()),
    )


def _coded(rows: tuple[RowCheck, ...]) -> list[RowCheck]:
    return [r for r in rows if r.row.code]


def row_lines(result: Check, row: RowCheck) -> str:
    """What one row bills, e.g. ``97112 × 2 (GP, CQ)``; empty when it bills nothing."""
    if row.evaluation is None or row.evaluation.blocked:
        return ""
    parts = []
    for line in row.evaluation.charge_lines:
        mods = f" ({', '.join(line.modifiers)})" if line.modifiers else ""
        parts.append(f"{line.code} × {line.units}{mods}")
    return "; ".join(parts)
