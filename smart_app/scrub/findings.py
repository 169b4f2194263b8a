"""Scrub findings from the rule registry (billing_rules/data/scrub.toml): text, severity, source are data."""

from __future__ import annotations

from typing import Any, cast

from billing_rules.loader import RuleSet
from billing_rules.model import Finding, Severity


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def scrub_finding(rules: RuleSet, rule: str, variant: str = "", **values: Any) -> Finding:
    entry = rules.registry[(rule, variant)]
    fill = _Blank(values)
    return Finding(
        rule=rule,
        severity=cast(Severity, entry["severity"]),
        message=entry["message"].format_map(fill),
        prompt=entry["prompt"].format_map(fill),
        field=entry["field"].format_map(fill),
        source=entry["source"],
        source_urls=tuple(entry.get("source_urls", ())),
    )
