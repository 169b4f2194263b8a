"""The code catalogue as the clinician's page needs it: code, group, our paraphrase, unit type, fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from billing_rules.loader import RuleSet, default_rules

GROUPS = (
    "self-management education",
    "group education",
    "diabetes education and nutrition",
    "therapy with education",
    "therapy procedures",
    "modalities",
    "evaluations",
    "caregiver training",
    "remote monitoring",
    "E/M",
)


@dataclass(frozen=True)
class CodeInfo:
    code: str
    group: str
    paraphrase: str
    unit_type: str
    fields: tuple[str, ...]
    effective_from: date
    effective_to: date
    source: str


def catalogue(rules: RuleSet | None = None, on: date | None = None) -> list[CodeInfo]:
    """Every catalogued code (the entry in force on ``on`` when given, else the newest), in group order."""
    rules = rules or default_rules()
    out = []
    for code, entries in rules.codes.items():
        current = [e for e in entries if on is None or e["effective_from"] <= on <= e["effective_to"]]
        if not current:
            continue
        e = max(current, key=lambda x: x["effective_from"])
        out.append(
            CodeInfo(
                code,
                e["group"],
                e["paraphrase"],
                e["unit"],
                tuple(e["fields"]),
                e["effective_from"],
                e["effective_to"],
                e["source"],
            )
        )
    out.sort(key=lambda c: (GROUPS.index(c.group) if c.group in GROUPS else len(GROUPS), c.code))
    return out
