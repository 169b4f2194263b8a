"""Condition families that typically support self-management education (billing-rules.md §10.3), from data."""

from __future__ import annotations

from datetime import date

from billing_rules.icd10 import normalise
from billing_rules.loader import RuleSet, default_rules, in_period


def _on(on: date | None) -> date:
    return on or date.today()


def supporting_family(icd10_code: str, rules: RuleSet | None = None, on: date | None = None) -> str | None:
    """The family name an ICD-10-CM code belongs to (by prefix), or None."""
    code = normalise(icd10_code)
    for family in (rules or default_rules()).entries("family"):
        if in_period(family, _on(on)) and any(code.startswith(p) for p in family["icd10_prefixes"]):
            return str(family["name"])
    return None


def snomed_family(snomed_code: str, rules: RuleSet | None = None, on: date | None = None) -> str | None:
    """The family a SNOMED CT concept (as used in the Synthea data) belongs to, or None."""
    code = snomed_code.strip()
    for family in (rules or default_rules()).entries("family"):
        if in_period(family, _on(on)) and code in family["snomed"]:
            return str(family["name"])
    return None
