"""The visit grid's rows: one row per service, in the form's flat field names.

Row 0 keeps the single-service names (``code``, ``minutes``, ``start_time``...), so a draft saved before
the grid, and every form built for one service, is a one-row visit as it stands; row ``n`` > 0 uses
``s<n>_code``, ``s<n>_minutes``... The draft keeps the fields as typed; ``rows`` is how many rows the page
shows (an empty row the clinician added is kept until they remove it). Adding and removing rows rewrites
the names, so row numbers stay 0..n-1 whatever was removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What each row carries; everything else on the page is said once for the visit.
ROW_FIELDS = (
    "code",
    "minutes",
    "start_time",
    "end_time",
    "furnished_by",
    "assistant_minutes",
    "interventions",
)
MAX_ROWS = 12
ROWS = "rows"


def row_name(index: int, base: str) -> str:
    """The form name of a row's control (``minutes`` for row 0, ``s2_minutes`` for row 2)."""
    return base if index == 0 else f"s{index}_{base}"


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def row_count(fields: Mapping[str, Any]) -> int:
    """How many rows the page shows: the saved count, at least every row that holds something, at least 1."""
    raw = _text(fields, ROWS)
    count = int(raw) if raw.isdigit() else 1
    for index in range(1, MAX_ROWS):
        if any(_text(fields, row_name(index, base)) for base in ROW_FIELDS):
            count = max(count, index + 1)
    return max(1, min(count, MAX_ROWS))


@dataclass(frozen=True)
class Row:
    """One service row as typed (strings), with its position."""

    index: int
    values: dict[str, str]

    @property
    def code(self) -> str:
        return self.values.get("code", "").upper()

    def name(self, base: str) -> str:
        return row_name(self.index, base)

    def get(self, base: str) -> str:
        return self.values.get(base, "")


def rows(fields: Mapping[str, Any]) -> list[Row]:
    """Every row the page shows, in order (empty ones included)."""
    return [
        Row(i, {base: _text(fields, row_name(i, base)) for base in ROW_FIELDS})
        for i in range(row_count(fields))
    ]


def coded_rows(fields: Mapping[str, Any]) -> list[Row]:
    """The rows that name a service (an empty row is not part of the visit yet)."""
    return [r for r in rows(fields) if r.code]


def _without_rows(fields: Mapping[str, Any]) -> dict[str, Any]:
    names = {row_name(i, base) for i in range(MAX_ROWS) for base in ROW_FIELDS}
    return {k: v for k, v in fields.items() if k not in names and k != ROWS}


def _with_rows(fields: Mapping[str, Any], kept: list[dict[str, str]]) -> dict[str, Any]:
    out = _without_rows(fields)
    for index, values in enumerate(kept):
        for base, value in values.items():
            if value:
                out[row_name(index, base)] = value
    out[ROWS] = str(max(1, len(kept)))
    return out


def add_row(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields with one more (empty) row at the end, up to ``MAX_ROWS``."""
    current = [r.values for r in rows(fields)]
    if len(current) < MAX_ROWS:
        current.append({})
    return _with_rows(fields, current)


def remove_row(fields: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The fields without row ``index``; the rows after it move up one place. The last row is emptied."""
    current = [r.values for r in rows(fields)]
    if 0 <= index < len(current):
        del current[index]
    return _with_rows(fields, current)


def use_code(fields: Mapping[str, Any], code: str, instead_of: str = "") -> dict[str, Any]:
    """The fields with ``code`` as a service (a "switch to" choice): in the row of ``instead_of`` when given
    (its minutes kept), else in the last row when it is still empty, else in a new row; nothing changes when
    the visit already has it."""
    code, instead_of = code.strip().upper(), instead_of.strip().upper()
    current = [dict(r.values) for r in rows(fields)]
    if not code or any(r.get("code", "").upper() == code for r in current):
        return _with_rows(fields, current)
    for row in current:
        if instead_of and row.get("code", "").upper() == instead_of:
            row["code"] = code
            return _with_rows(fields, current)
    if current and not current[-1].get("code"):
        current[-1]["code"] = code
    elif len(current) < MAX_ROWS:
        current.append({"code": code})
    return _with_rows(fields, current)
