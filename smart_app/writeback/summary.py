"""The charge summary: where the EHR takes no charges (Epic), the lines a biller hands on, as rows and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = ("service_date", "code", "description", "units", "modifiers", "place_of_service", "diagnoses")


def summary_rows(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One row per charge line; modifiers and diagnoses (pointer order) joined with spaces."""
    return [
        {
            "service_date": str(line.get("service_date") or ""),
            "code": str(line["code"]),
            "description": str(line.get("description") or ""),
            "units": str(line["units"]),
            "modifiers": " ".join(line.get("modifiers") or ()),
            "place_of_service": str(line.get("place_of_service") or ""),
            "diagnoses": " ".join(line.get("diagnoses") or ()),
        }
        for line in lines
    ]


def charge_summary_csv(
    lines: Sequence[Mapping[str, Any]], *, patient_id: str, encounter_id: str | None
) -> str:
    """CSV text, header then one row per line; cells a spreadsheet would run as formulas are neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("patient", "encounter", *COLUMNS))
    for row in summary_rows(lines):
        cells = [patient_id, encounter_id or "", *(row[c] for c in COLUMNS)]
        writer.writerow([_safe(c) for c in cells])
    return out.getvalue()


def _safe(cell: str) -> str:
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
