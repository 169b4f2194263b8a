"""scrub.json and scrub.csv (DESIGN.md §4, Scrub output), and the one pass that writes all three files.

The command keeps the report rows on disk, and reading them back is a cost of its own: every file is fed
from the same single pass over the rows (``write_reports``), each writer taking one charge at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import orjson

from smart_app.scrub.batch_gc import batch_gc

CSV_FIELDS = ("chargeitem", "patient", "date", "code", "rule", "severity", "message", "prompt")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUOTE = re.compile(r'[,"\r\n]')
FILE_NAMES = {"json": "scrub.json", "csv": "scrub.csv", "html": "scrub.html"}
_MEMO_LIMIT = 50_000  # distinct finding texts remembered as CSV cells (they repeat from charge to charge)


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text (OWASP CSV injection): a formula start gets a leading quote."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(" ", text)
    return f"'{text}" if text.startswith(FORMULA_START) else text


class ReportWriter(Protocol):
    """One output file, fed the charges one at a time in the report's order."""

    def add(self, charge: dict[str, Any]) -> None: ...

    def close(self, failed: bool = False) -> None:
        """Finish the file (``failed``: the run stopped, finish nothing that costs time)."""


class JsonWriter:
    """scrub.json streamed charge by charge: the summary indented, then one charge a line (orjson: compact,
    UTF-8 kept as is, several times json.dumps' speed)."""

    def __init__(self, path: Path, summary: dict[str, Any]) -> None:
        self._handle = path.open("wb")
        head = '{"summary": ' + json.dumps(summary, indent=1, ensure_ascii=False) + ',\n "charges": ['
        self._handle.write(head.encode("utf-8"))
        self._separator = b"\n  "

    def add(self, charge: dict[str, Any]) -> None:
        self._handle.write(self._separator + orjson.dumps(charge))
        self._separator = b",\n  "

    def close(self, failed: bool = False) -> None:
        try:
            if not failed:
                self._handle.write(b"\n ]\n}\n")
        finally:
            self._handle.close()


def csv_field(value: Any) -> str:
    """A safe cell as csv.writer (QUOTE_MINIMAL, a row of several cells) writes it: quoted when it holds a
    comma, a quote or a line break, quotes doubled. Written by hand: a quarter of csv.writer's time."""
    text = safe_cell(value)
    return '"' + text.replace('"', '""') + '"' if _QUOTE.search(text) else text


class CsvWriter:
    """One row per finding; a charge without findings gets none (it has nothing to act on).

    Rule, severity, message and prompt repeat from charge to charge, so their cells are remembered."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("w", encoding="utf-8", newline="")
        self._handle.write(",".join(csv_field(name) for name in CSV_FIELDS) + "\r\n")
        self._cells: dict[str, str] = {}

    def _cell(self, value: str) -> str:
        cell = self._cells.get(value)
        if cell is None:
            if len(self._cells) >= _MEMO_LIMIT:
                self._cells.clear()
            cell = self._cells[value] = csv_field(value)
        return cell

    def add(self, charge: dict[str, Any]) -> None:
        findings = charge["findings"]
        if not findings:
            return
        head = ",".join([csv_field(charge[key]) for key in ("chargeitem", "patient", "date", "code")]) + ","
        cell = self._cell
        self._handle.write(
            "".join(
                f"{head}{cell(f['rule'])},{cell(f['severity'])},{cell(f['message'])},{cell(f['prompt'])}\r\n"
                for f in findings
            )
        )

    def close(self, failed: bool = False) -> None:
        self._handle.close()


def _feed(charges: Iterable[dict[str, Any]], writers: list[ReportWriter]) -> None:
    failed = True
    try:
        for charge in charges:
            for writer in writers:
                writer.add(charge)
        failed = False
    finally:
        for writer in writers:
            writer.close(failed)


def write_reports(document: dict[str, Any], out: Path, formats: Iterable[str]) -> list[Path]:
    """The chosen files (json, csv, html) in ``out``, from one pass over the charges; their paths."""
    chosen = [f for f in FILE_NAMES if f in set(formats)]
    writers: list[ReportWriter] = []
    try:
        for name in chosen:
            path = out / FILE_NAMES[name]
            if name == "json":
                writers.append(JsonWriter(path, document["summary"]))
            elif name == "csv":
                writers.append(CsvWriter(path))
            else:
                from smart_app.scrub.html import HtmlWriter  # Jinja2 only when the page is asked for

                writers.append(HtmlWriter(path, document["summary"]))
    except BaseException:
        for writer in writers:
            writer.close(failed=True)
        raise
    with batch_gc():
        _feed(document["charges"], writers)
    return [out / FILE_NAMES[name] for name in chosen]
