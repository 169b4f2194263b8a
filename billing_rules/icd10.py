"""ICD-10-CM look-ups from the compact multi-year index shipped in billing_rules/data
(scripts/build_icd10_index.py).

Each code carries the fiscal years (code sets) it is valid in and the years it is a billable leaf, so a
code is
checked against the code set in force on the service date. A code set may be partial (FY2027: the
categories its
public source covers); for a date or a category no code set covers, the code is checked against the nearest
full code set and ``lookup`` says it was not checked (the engine turns that into a ``rules.out-of-period``
finding naming the year). The index is read lazily on first use (about 0.1 s), never at import.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from importlib import resources

_SHAPE = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z](\.[0-9A-Z]{1,4})?$")


@dataclass(frozen=True)
class CodeSet:
    """One fiscal year's code set; ``categories`` empty = the whole set, else the only categories it holds."""

    name: str
    valid_from: date
    valid_to: date
    source: str
    covers: bool = True  # (code_set_for) whether it covers the asked date
    categories: frozenset[str] = frozenset()

    @property
    def partial(self) -> bool:
        return bool(self.categories)

    def holds(self, code: str) -> bool:
        return not self.categories or code[:3] in self.categories


@dataclass(frozen=True)
class Lookup:
    """A code on a date: valid and billable in ``code_set``; ``checked`` False = not checked for the date's
    year."""

    code: str
    valid: bool
    billable: bool
    code_set: CodeSet
    checked: bool
    wanted: str | None  # the fiscal year the date falls in (e.g. "FY2027"), when not checked


@dataclass(frozen=True)
class _Index:
    # code -> "valid bits<TAB>leaf bits<TAB>description", split on use (reading 98k rows stays ~0.1 s)
    rows: dict[str, str]
    sets: tuple[CodeSet, ...]  # oldest first; bit i = sets[i]

    def get(self, code: str) -> tuple[int, int, str] | None:
        row = self.rows.get(code)
        if row is None:
            return None
        valid, leaf, description = row.split("\t", 2)
        return int(valid), int(leaf), description


@cache
def _index() -> _Index:
    raw = resources.files("billing_rules.data").joinpath("icd10cm.tsv.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").split("\n")
    sets = []
    first = 1
    while lines[first].startswith("#code_set\t"):
        _, name, start, end, source, cover = lines[first].split("\t")
        cats = frozenset() if cover == "*" else frozenset(cover.split(","))
        sets.append(CodeSet(name, date.fromisoformat(start), date.fromisoformat(end), source, True, cats))
        first += 1
    rows = dict(line.split("\t", 1) for line in lines[first:] if line)
    return _Index(rows, tuple(sets))


@lru_cache(maxsize=8192)
def normalise(code: str) -> str:
    """Upper case, no spaces, dotted after the third character (E119 -> E11.9)."""
    compact = "".join(code.split()).upper().replace(".", "")
    return compact if len(compact) <= 3 else f"{compact[:3]}.{compact[3:]}"


def fiscal_year(on: date) -> str:
    """ICD-10-CM fiscal years run October 1 to September 30: 2026-10-01 is in FY2027."""
    return f"FY{on.year + 1 if on.month >= 10 else on.year}"


def code_sets() -> tuple[CodeSet, ...]:
    return _index().sets


def _covering(on: date) -> int | None:
    for i, s in enumerate(_index().sets):
        if s.valid_from <= on <= s.valid_to:
            return i
    return None


def _nearest_full(on: date) -> int:
    """The full code set closest in time to ``on`` (the fallback when nothing checks the date)."""
    sets = _index().sets

    def distance(i: int) -> int:
        s = sets[i]
        return max((s.valid_from - on).days, (on - s.valid_to).days, 0)

    return min((i for i, s in enumerate(sets) if not s.partial), key=lambda i: (distance(i), -i))


def _newest_full() -> int:
    return max(i for i, s in enumerate(_index().sets) if not s.partial)


def code_set_for(on: date | None = None) -> CodeSet:
    """The code set in force on ``on`` (``covers`` False: none is, this is the nearest full one)."""
    sets = _index().sets
    if on is None:
        return sets[_newest_full()]
    hit = _covering(on)
    if hit is not None:
        return sets[hit]
    s = sets[_nearest_full(on)]
    return CodeSet(s.name, s.valid_from, s.valid_to, s.source, False, s.categories)


@lru_cache(maxsize=16384)
def lookup(code: str, on: date | None = None) -> Lookup:
    """Validity of a (normalised or raw) code on a date, and whether the date's own code set checked it."""
    norm = normalise(code)
    sets = _index().sets
    hit = _covering(on) if on is not None else _newest_full()
    checked = hit is not None and sets[hit].holds(norm)
    use = hit if checked and hit is not None else (_nearest_full(on) if on is not None else _newest_full())
    valid_bits, leaf_bits, _ = _index().get(norm) or (0, 0, "")
    shaped = bool(_SHAPE.match(norm))
    valid = shaped and bool(valid_bits >> use & 1)
    billable = valid and bool(leaf_bits >> use & 1)
    wanted = None if checked or on is None else fiscal_year(on)
    return Lookup(norm, valid, billable, sets[use], checked, wanted)


def is_valid(code: str, on: date | None = None) -> bool:
    """A code (category or leaf) of the code set in force on ``on`` (no date: the newest full set)."""
    return lookup(code, on).valid


def is_billable(code: str, on: date | None = None) -> bool:
    """A billable leaf on ``on``, 7th character included (E11.9 yes; E11, M54.5 and S72.001 no)."""
    return lookup(code, on).billable


def valid_years(code: str) -> list[str]:
    """The code sets the code is valid in (for a prompt: 'valid FY2026-FY2027')."""
    bits = (_index().get(normalise(code)) or (0, 0, ""))[0]
    return [s.name for i, s in enumerate(_index().sets) if bits >> i & 1]


def describe(code: str) -> str | None:
    entry = _index().get(normalise(code))
    return entry[2] if entry else None


def children_examples(code: str, limit: int = 3, on: date | None = None) -> list[str]:
    """A few billable codes under a category on the date (for the prompt of ``dx.not-billable``)."""
    return list(_children(normalise(code), limit, on))


@lru_cache(maxsize=4096)
def _children(prefix: str, limit: int, on: date | None) -> tuple[str, ...]:
    """Memoised: one scan of the whole index costs tens of milliseconds; a scrub asks for a code often."""
    if len(prefix) == 3:
        prefix += "."
    out = []
    for c in _index().rows:
        if c.startswith(prefix) and is_billable(c, on):
            out.append(c)
            if len(out) == limit:
                break
    return tuple(out)


@cache
def _search_rows() -> list[tuple[str, bool, str, str]]:
    newest = _newest_full()
    rows = []
    last = len(_index().sets) - 1
    for c in _index().rows:
        valid, leaf, d = _index().get(c) or (0, 0, "")
        if valid >> newest & 1 or valid >> last & 1:
            rows.append((c, bool(leaf >> newest & 1 or leaf >> last & 1), d.casefold(), d))
    return rows


def search(text: str, limit: int = 20) -> list[tuple[str, str]]:
    """Current codes whose code starts with, or whose description contains every word of, ``text``."""
    query = text.strip()
    if not query:
        return []
    norm = normalise(query)
    words = query.casefold().split()
    hits = []
    for code, leaf, folded, description in _search_rows():
        if code.startswith(norm) or all(w in folded for w in words):
            hits.append((not leaf, not code.startswith(norm), len(code), code, description))
    hits.sort()
    return [(code, description) for *_, code, description in hits[:limit]]
