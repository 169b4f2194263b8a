"""scrub.json and scrub.csv (DESIGN.md §4, Scrub output)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

CSV_FIELDS = ("chargeitem", "patient", "date", "code", "rule", "severity", "message", "prompt")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text (OWASP CSV injection): a formula start gets a leading quote."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(" ", text)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def write_json(document: dict[str, Any], path: Path) -> None:
    """Streamed row by row: the charges may be read back from disk and never all be in memory."""
    with path.open("w", encoding="utf-8") as handle:
        summary = json.dumps(document["summary"], indent=1, ensure_ascii=False)
        handle.write('{"summary": ' + summary + ',\n "charges": [')
        for n, charge in enumerate(document["charges"]):
            handle.write(("," if n else "") + "\n  " + json.dumps(charge, ensure_ascii=False))
        handle.write("\n ]\n}\n")


def write_csv(document: dict[str, Any], path: Path) -> None:
    """One row per finding; a charge without findings gets none (it has nothing to act on)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow(CSV_FIELDS)
        for charge in document["charges"]:
            for finding in charge["findings"]:
                row = (
                    charge["chargeitem"],
                    charge["patient"],
                    charge["date"],
                    charge["code"],
                    finding["rule"],
                    finding["severity"],
                    finding["message"],
                    finding["prompt"],
                )
                writer.writerow([safe_cell(v) for v in row])
