"""Load rule data (packaged TOML plus deployment override directories) into a RuleSet.

Override files use the same tables and go through the same validation. Later files win: a later
``[[code]]`` or ``[[estimate]]`` entry covering the date replaces an earlier one, and ``[[policy]]``
entries are laid over the packaged policy of their payer class key by key (a ``payer_name`` entry
applies only to that payer).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from billing_rules.errors import RuleDataError
from billing_rules.ncci import EditTables, load_edit_tables
from billing_rules.schema import validate_document

RULES_VERSION = "2026.1"

Entry = dict[str, Any]
LOOKUP_LIMIT = 100_000  # derived look-ups per rule set (codes x dates x payers: far fewer in practice)
FINDING_LIMIT = 20_000  # memoised findings and what is built from them (one-offs fill it, so it is cleared)
_MISSING = object()


def in_period(entry: Entry, on: date) -> bool:
    return bool(entry["effective_from"] <= on <= entry["effective_to"])


def pick(entries: Iterable[Entry], on: date) -> Entry | None:
    """The last-loaded entry whose period covers ``on`` (overrides come after packaged data)."""
    found = None
    for entry in entries:
        if entry["effective_from"] <= on <= entry["effective_to"]:
            found = entry
    return found


def nearest(entries: Sequence[Entry], on: date) -> Entry | None:
    """The entry closest in time to ``on`` (used, with a finding, when no period covers the date)."""
    if not entries:
        return None

    def distance(e: Entry) -> int:
        if on < e["effective_from"]:
            return (e["effective_from"] - on).days
        return (on - e["effective_to"]).days

    return min(entries, key=distance)


@dataclass
class RuleSet:
    """All rule data, validated and indexed; evaluate() only reads it."""

    tables: dict[str, list[Entry]]
    files: tuple[str, ...]
    edit_tables: EditTables | None = None
    version: str = RULES_VERSION
    codes: dict[str, list[Entry]] = field(init=False)
    registry: dict[tuple[str, str], Entry] = field(init=False)
    _policy_cache: dict[tuple[str, str, date], tuple[Entry, bool]] = field(init=False, default_factory=dict)
    # Memo of findings (immutable, so equal inputs share one object); cleared when it grows past a limit,
    # since findings that name a charge or an order are one-offs.
    finding_cache: dict[tuple[Any, ...], Any] = field(init=False, default_factory=dict, repr=False)
    # Memo of derived look-ups (ranges, pools, modifiers per date...): keyed by codes, dates and payers,
    # never by a patient, so it stays small and is not swept away with the one-off findings.
    lookup_cache: dict[tuple[Any, ...], Any] = field(init=False, default_factory=dict, repr=False)

    def lookup(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """The memoised value of a derived look-up (bounded: cleared past ``LOOKUP_LIMIT`` entries)."""
        return _remember(self.lookup_cache, LOOKUP_LIMIT, key, compute)

    def remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """The memoised finding (or value built from findings: a visit's merged findings, an estimate);
        bounded: cleared past ``FINDING_LIMIT`` entries."""
        return _remember(self.finding_cache, FINDING_LIMIT, key, compute)

    def __post_init__(self) -> None:
        self.codes = {}
        for entry in self.tables.get("code", []):
            self.codes.setdefault(entry["code"], []).append(entry)
        self.registry = {(r["id"], r.get("variant", "")): r for r in self.tables.get("rule", [])}

    def entries(self, table: str) -> list[Entry]:
        return self.tables.get(table, [])

    def code(self, code: str, on: date) -> Entry | None:
        return pick(self.codes.get(code, ()), on)

    def rule_ids(self) -> list[str]:
        return sorted({rule_id for rule_id, _ in self.registry})

    def policy(self, payer_class: str, payer_name: str | None, on: date) -> tuple[Entry, bool]:
        """Merged policy for a payer on a date, and whether a packaged period covered the date."""
        key = (payer_class, (payer_name or "").casefold(), on)
        hit = self._policy_cache.get(key)
        if hit is None:
            hit = self._merge_policy(payer_class, key[1], on)
            self._policy_cache[key] = hit
        return hit

    def _merge_policy(self, payer_class: str, name: str, on: date) -> tuple[Entry, bool]:
        mine = [p for p in self.entries("policy") if p["payer_class"] == payer_class]
        base = [p for p in mine if "payer_name" not in p]
        covering = [p for p in base if in_period(p, on)]
        fallback = nearest(base, on)
        applied = covering or ([fallback] if fallback is not None else [])
        applied += [
            p for p in mine if name and p.get("payer_name", "").casefold() == name and in_period(p, on)
        ]
        merged: Entry = {}
        severity: dict[str, str] = {}
        for entry in applied:
            merged.update(entry)
            severity.update(entry.get("severity", {}))
        merged["severity"] = severity
        return merged, bool(covering)


def _read_toml(text: str, where: str) -> dict[str, list[Entry]]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleDataError(f"{where}: not valid TOML ({exc})") from exc
    return validate_document(doc, where)


def _packaged() -> list[tuple[str, str]]:
    root = resources.files("billing_rules.data")
    names = sorted(p.name for p in root.iterdir() if p.name.endswith(".toml"))
    return [(f"billing_rules/data/{n}", root.joinpath(n).read_text(encoding="utf-8")) for n in names]


def _directory(path: Path) -> list[tuple[str, str]]:
    if not path.is_dir():
        raise RuleDataError(f"{path}: rules directory does not exist")
    return [(str(p), p.read_text(encoding="utf-8")) for p in sorted(path.glob("*.toml"))]


def load_rules(extra_dirs: Sequence[Path] = (), *, edit_tables_dir: Path | None = None) -> RuleSet:
    """Packaged rule data, then every ``*.toml`` of each extra directory in order, validated."""
    sources = _packaged()
    for directory in extra_dirs:
        sources.extend(_directory(Path(directory)))
    tables: dict[str, list[Entry]] = {}
    for where, text in sources:
        for table, entries in _read_toml(text, where).items():
            tables.setdefault(table, []).extend(entries)
    edits = load_edit_tables(Path(edit_tables_dir)) if edit_tables_dir is not None else None
    return RuleSet(tables=tables, files=tuple(w for w, _ in sources), edit_tables=edits)


_deployment: tuple[tuple[Path, ...], Path | None] = ((), None)


def use_deployment_rules(extra_dirs: Sequence[Path] = (), edit_tables_dir: Path | None = None) -> None:
    """Where ``default_rules`` finds the deployment's own rule data and NCCI edit tables.

    billing_rules reads no environment (it imports the standard library only): the app's settings
    (SMART_EDU_RULES_DIR, SMART_EDU_EDIT_TABLES_DIR) come from ``create_app`` and the command line.
    """
    global _deployment
    wanted = (tuple(Path(d) for d in extra_dirs), Path(edit_tables_dir) if edit_tables_dir else None)
    if wanted != _deployment:
        _deployment = wanted
        default_rules.cache_clear()


@cache
def default_rules() -> RuleSet:
    """Packaged rules plus the deployment's directories given to ``use_deployment_rules`` (cached)."""
    extra, edit_tables_dir = _deployment
    return load_rules(extra, edit_tables_dir=edit_tables_dir)


def _remember(
    cache: dict[tuple[Any, ...], Any], limit: int, key: tuple[Any, ...], compute: Callable[[], Any]
) -> Any:
    """Safe when another thread clears the cache meanwhile: the value is kept locally."""
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        if len(cache) >= limit:
            cache.clear()
        cache[key] = value
    return value
