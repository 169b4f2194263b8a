"""ICD-10-CM look-ups from the compact index shipped in billing_rules/data (built from simple-icd-10-cm).

The index is read lazily on first use (about 0.1 s), not at import. Only one code set is bundled; a date
outside its fiscal year is validated against it and ``code_set_for`` says so (the engine turns that into a
``rules.out-of-period`` finding).
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
    """The bundled code set and whether it covers the asked date."""

    name: str
    valid_from: date
    valid_to: date
    source: str
    covers: bool


@dataclass(frozen=True)
class _Index:
    codes: dict[str, tuple[bool, str]]  # code -> (billable leaf, description)
    name: str
    valid_from: date
    valid_to: date
    source: str


@cache
def _index() -> _Index:
    raw = resources.files("billing_rules.data").joinpath("icd10cm.tsv.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    _, name, start, end, source = lines[0].split("\t")
    codes: dict[str, tuple[bool, str]] = {}
    for line in lines[1:]:
        code, leaf, description = line.split("\t", 2)
        codes[code] = (leaf == "1", description)
    return _Index(codes, name, date.fromisoformat(start), date.fromisoformat(end), source)


@lru_cache(maxsize=8192)
def normalise(code: str) -> str:
    """Upper case, no spaces, dotted after the third character (E119 -> E11.9)."""
    compact = "".join(code.split()).upper().replace(".", "")
    return compact if len(compact) <= 3 else f"{compact[:3]}.{compact[3:]}"


def code_set_for(on: date | None = None) -> CodeSet:
    """The bundled code set; ``covers`` is False when ``on`` falls outside its fiscal year."""
    idx = _index()
    covers = on is None or idx.valid_from <= on <= idx.valid_to
    return CodeSet(idx.name, idx.valid_from, idx.valid_to, idx.source, covers)


def is_valid(code: str, on: date | None = None) -> bool:
    """A code (category or leaf) of the bundled set; ``on`` only matters through ``code_set_for``."""
    norm = normalise(code)
    return bool(_SHAPE.match(norm)) and norm in _index().codes


def is_billable(code: str, on: date | None = None) -> bool:
    """A billable leaf, 7th character included (E11.9 yes; E11, M54.5 and S72.001 no)."""
    entry = _index().codes.get(normalise(code))
    return bool(entry and entry[0])


def describe(code: str) -> str | None:
    entry = _index().codes.get(normalise(code))
    return entry[1] if entry else None


def children_examples(code: str, limit: int = 3) -> list[str]:
    """A few billable codes under a category (for the prompt of ``dx.not-billable``)."""
    return list(_children(normalise(code), limit))


@lru_cache(maxsize=4096)
def _children(prefix: str, limit: int) -> tuple[str, ...]:
    """Memoised: one scan of the whole index costs tens of milliseconds; a scrub asks for a code often."""
    if len(prefix) == 3:
        prefix += "."
    return tuple([c for c, (leaf, _) in _index().codes.items() if leaf and c.startswith(prefix)][:limit])


@cache
def _search_rows() -> list[tuple[str, bool, str, str]]:
    return [(c, leaf, d.casefold(), d) for c, (leaf, d) in _index().codes.items()]


def search(text: str, limit: int = 20) -> list[tuple[str, str]]:
    """Codes whose code starts with, or whose description contains every word of, ``text``; billable first."""
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
