"""Loader for CMS's published NCCI practitioner PTP and MUE tables, in their own column layouts.

PTP (practitioner, quarterly ``ccipra-v<ver>r0-f<n>.txt``): tab-separated; AMA notice lines, then the header
``Column 1 | Column 2 | *=in existence prior to 1996 | Effective Date | Deletion Date *=no data |
Modifier 0=not allowed 1=allowed 9=not applicable | PTP Edit Rationale``; dates YYYYMMDD, ``*`` = no deletion.
An edit applies from its effective date up to (not including) its deletion date.

MUE (practitioner, ``MCR_MUE_PractitionerServices_Eff_MM-DD-YYYY.csv``): CSV; a quoted AMA notice, then
the header ``HCPCS/CPT Code | Practitioner Services MUE Values | MUE Adjudication Indicator | MUE Rationale``;
the MAI cell starts with its digit ("2 Date of Service Edit: Policy"). The table's effective date is in
the file name.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from billing_rules.errors import RuleDataError

CODE_RE = re.compile(r"^[0-9A-Z]{4}[0-9A-Z]$")
MUE_DATE_RE = re.compile(r"(?:Eff_)?(\d{2})-(\d{2})-(\d{4})")


@dataclass(frozen=True)
class PtpEdit:
    column1: str
    column2: str
    effective: date
    deletion: date | None
    modifier: str  # "0" not allowed, "1" allowed, "9" not applicable
    rationale: str

    def active(self, on: date) -> bool:
        return self.effective <= on and (self.deletion is None or on < self.deletion)


@dataclass(frozen=True)
class MueEdit:
    code: str
    limit: int
    mai: str
    rationale: str


@dataclass
class EditTables:
    pairs: dict[tuple[str, str], list[PtpEdit]] = field(default_factory=dict)
    mue: list[tuple[date, dict[str, MueEdit]]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    ptp_from: date | None = None

    def ptp(self, a: str, b: str, on: date) -> PtpEdit | None:
        """The active edit between two codes (either order) on a date, if any."""
        for key in ((a, b), (b, a)):
            for edit in self.pairs.get(key, ()):
                if edit.active(on) and edit.modifier != "9":
                    return edit
        return None

    def ptp_loaded(self, on: date) -> bool:
        return self.ptp_from is not None and self.ptp_from <= on

    def mue_table(self, on: date) -> dict[str, MueEdit] | None:
        current = None
        for effective, table in self.mue:
            if effective <= on:
                current = table
        return current


def _yyyymmdd(value: str, where: str) -> date:
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except (ValueError, IndexError) as exc:
        raise RuleDataError(f"{where}: bad date {value!r} (expected YYYYMMDD)") from exc


def parse_ptp(text: str, where: str) -> list[PtpEdit]:
    """Rows of a practitioner PTP text file; notice/header lines skipped, bad data rows refused."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Column 1\t")), None)
    if start is None:
        raise RuleDataError(f"{where}: no 'Column 1<TAB>Column 2' header: not a CMS PTP file")
    edits = []
    for n, line in enumerate(lines[start + 1 :], start=start + 2):
        cells = line.split("\t")
        if not CODE_RE.match(cells[0].strip()):
            continue  # continuation of a multi-row header or a blank line
        if len(cells) < 6:
            raise RuleDataError(f"{where}:{n}: expected 7 tab-separated columns")
        c1, c2, _, eff, dele, mod = (c.strip() for c in cells[:6])
        if mod not in ("0", "1", "9"):
            raise RuleDataError(f"{where}:{n}: modifier indicator {mod!r} is not 0, 1 or 9")
        deletion = None if dele in ("*", "") else _yyyymmdd(dele, f"{where}:{n}")
        rationale = cells[6].strip() if len(cells) > 6 else ""
        edits.append(PtpEdit(c1, c2, _yyyymmdd(eff, f"{where}:{n}"), deletion, mod, rationale))
    return edits


def _is_mue_header(row: list[str]) -> bool:
    return bool(row) and re.sub(r"\s", "", row[0]).casefold() == "hcpcs/cptcode"


def parse_mue(text: str, where: str) -> dict[str, MueEdit]:
    """Codes of a practitioner MUE CSV, found by its header row below the notice."""
    rows = list(csv.reader(io.StringIO(text)))
    start = next((i for i, row in enumerate(rows) if _is_mue_header(row)), None)
    if start is None:
        raise RuleDataError(f"{where}: no 'HCPCS/CPT Code' header: not a CMS MUE file")
    out = {}
    for n, row in enumerate(rows[start + 1 :], start=start + 2):
        if not row or not CODE_RE.match(row[0].strip()):
            continue
        if len(row) < 3 or not row[1].strip().isdigit() or row[2].strip()[:1] not in ("1", "2", "3"):
            raise RuleDataError(f"{where}:{n}: expected code, MUE value and adjudication indicator 1-3")
        code = row[0].strip()
        out[code] = MueEdit(code, int(row[1]), row[2].strip()[0], row[3].strip() if len(row) > 3 else "")
    return out


def mue_effective(name: str) -> date:
    match = MUE_DATE_RE.search(name)
    if not match:
        raise RuleDataError(f"{name}: MUE file name must carry its effective date (…_Eff_MM-DD-YYYY.csv)")
    month, day, year = (int(g) for g in match.groups())
    return date(year, month, day)


def load_edit_tables(directory: Path) -> EditTables:
    """Every PTP ``*.txt`` and MUE ``*.csv`` file of a directory (CMS zips unpacked), by effective date."""
    if not directory.is_dir():
        raise RuleDataError(f"{directory}: edit-table directory does not exist")
    tables = EditTables()
    for path in sorted(directory.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in (".txt", ".csv"):
            continue
        text = path.read_text(encoding="latin-1")
        if suffix == ".txt":
            for edit in parse_ptp(text, str(path)):
                tables.pairs.setdefault((edit.column1, edit.column2), []).append(edit)
        else:
            tables.mue.append((mue_effective(path.name), parse_mue(text, str(path))))
        tables.files.append(path.name)
    tables.mue.sort(key=lambda item: item[0])
    starts = [e.effective for edits in tables.pairs.values() for e in edits]
    tables.ptp_from = min(starts) if starts else None
    return tables
