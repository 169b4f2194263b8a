"""Per-evaluation view of the rule data: the code's catalogue entry, the payer's merged policy, the date, the
role, and a finding factory that applies the registry text and the payer's severity overrides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from billing_rules.loader import Entry, RuleSet, nearest, pick
from billing_rules.model import ClinicalContext, Finding, ServiceRecord, Severity

THERAPISTS = frozenset({"PT", "PTA", "OT", "OTA"})
ASSISTANTS = frozenset({"PTA", "OTA"})


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class Policy:
    """What the checks need besides the record and context; ``modifiers`` collects what they add."""

    rules: RuleSet
    on: date
    code: Entry
    payer_class: str
    payer_name: str | None
    payer: Entry
    role: str
    units: dict[str, int] = field(default_factory=dict)
    modifiers: list[str] = field(default_factory=list)
    # code -> (assistant modifier, units that carry it): CQ/CO per unit (the other units go on their own line)
    assistant_units: dict[str, tuple[str, int]] = field(default_factory=dict)
    pos: str | None = None
    extra: list[Finding] = field(default_factory=list)

    @property
    def therapy_applies(self) -> bool:
        """Always-therapy codes, and sometimes-therapy codes furnished by a therapist."""
        kind = self.code["therapy"]
        return kind == "always" or (kind == "sometimes" and self.role in THERAPISTS)

    def finding(self, rule: str, variant: str = "", *, cites: Entry | None = None, **values: Any) -> Finding:
        """The registry's finding; ``cites`` = the data entry the finding rests on (named when unverified)."""
        severity = self.payer["severity"].get(f"{rule}:{variant}" if variant else rule)
        if severity is None:
            severity = self.payer["severity"].get(rule)
        cited = cites["source"] if cites is not None and cites.get("verified") is False else None
        key = (rule, variant, severity, self.code["code"], self.on, cited, tuple(sorted(values.items())))
        made = self.rules.remember(
            key, lambda: self._make(rule, variant, severity, values, cites if cited else None)
        )
        return cast(Finding, made)

    def _make(
        self, rule: str, variant: str, severity: str | None, values: dict[str, Any], cites: Entry | None
    ) -> Finding:
        """Fill the registry entry's templates; findings are immutable, so equal inputs share one object."""
        entry = self.rules.registry[(rule, variant)]
        fill = _Blank(code=self.code["code"], date=self.on.isoformat())
        fill.update(values)
        source, urls = entry["source"], list(entry.get("source_urls", ()))
        if cites is not None:
            source = f"{source}; value used: {cites['source']}"
            urls += cites.get("source_urls", ())
        return Finding(
            rule=rule,
            severity=cast(Severity, severity or entry["severity"]),
            message=entry["message"].format_map(fill),
            prompt=entry["prompt"].format_map(fill),
            field=entry["field"].format_map(fill),
            source=source,
            source_urls=tuple(dict.fromkeys(urls)),
        )

    def _memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """Per-rule-set memo; safe when another thread clears it (the value is kept locally)."""
        return self.rules.lookup(key, compute)

    def modifier(self, kind: str, role: str | None = None) -> str | None:
        """The modifier of a kind (for a role, where the kind depends on it) in force on the service date."""

        def find() -> str | None:
            for e in self.rules.entries("modifier"):
                in_force = e["effective_from"] <= self.on <= e["effective_to"]
                if e["kind"] == kind and in_force and (role is None or role in e.get("roles", ())):
                    return str(e["modifier"])
            return None

        return cast(str | None, self._memo(("modifier", kind, role, self.on), find))

    def dated(self, table: str, label: str) -> Entry | None:
        """The entry of a year-bound table for the service date; the nearest one with a finding otherwise."""

        def find() -> tuple[Entry | None, bool]:
            entries = self.rules.entries(table)
            hit = pick(entries, self.on)
            return (hit, False) if hit is not None else (nearest(entries, self.on), True)

        entry, outside = self._memo(("dated", table, self.on), find)
        gap = self.gap(table) if outside else None
        if gap is not None:
            self.extra.append(
                self.finding(
                    "rules.out-of-period",
                    "missing",
                    table=label,
                    year=_year_of(gap),
                    why=gap["source"],
                    searched=gap["searched"].isoformat(),
                )
            )
            return None
        if outside and entry is not None:
            used = f"the values for {entry['effective_from']}..{entry['effective_to']}"
            self.extra.append(self.finding("rules.out-of-period", table=label, used=used))
        return cast(Entry | None, entry)

    def gap(self, table: str) -> Entry | None:
        """The acknowledged gap (no data could be had) of a table covering the service date, if any."""
        return cast(
            Entry | None,
            self._memo(
                ("gap", table, self.on),
                lambda: pick((g for g in self.rules.entries("data_gap") if g["table"] == table), self.on),
            ),
        )


def _year_of(entry: Entry) -> str:
    start, end = entry["effective_from"], entry["effective_to"]
    return str(start.year) if start.year == end.year else f"{start.isoformat()}..{end.isoformat()}"


def payer_of(record: ServiceRecord, context: ClinicalContext) -> str:
    return record.payer_class or context.payer.payer_class or "unknown"


def role_of(record: ServiceRecord, context: ClinicalContext) -> str:
    return record.provider_role or context.provider.role or "unknown"
