"""Where the report rows wait until they are written: in memory (a list, for the API and tests) or on disk
(SQLite in a temporary file, for the command), so the command's memory does not grow with the export.

Both give the rows in the report's order, (date, patient, chargeitem), each time they are iterated.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from smart_app.scrub.tally import Tally

Row = dict[str, Any]
TABLE_LIMIT = 25_000  # distinct findings kept once in memory by DiskRows (tens of MB at most)


def sort_key(row: Row) -> tuple[str, str, str]:
    return (row["date"] or "", row["patient"], row["chargeitem"])


class ListRows:
    """Rows in memory, sorted once when first read."""

    def __init__(self) -> None:
        self._rows: list[Row] = []
        self._sorted = True
        self.tally = Tally()

    def add(self, rows: list[Row]) -> None:
        for row in rows:
            self.tally.add(row)
        self._rows.extend(rows)
        self._sorted = not rows and self._sorted

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        if not self._sorted:
            self._rows.sort(key=sort_key)
            self._sorted = True
        return iter(self._rows)


class DiskRows:
    """Rows in a temporary SQLite file, read back sorted (SQLite's text order is Python's for UTF-8).

    A row's findings are stored as numbers into a table of the distinct findings, kept here once each: the
    rows share a few hundred findings whose texts make up most of a row, so what goes to disk and is parsed
    back is a tenth of the row. The table holds at most ``TABLE_LIMIT`` findings (those met first, the common
    ones); any other is stored whole in its row, so memory stays bounded whatever the export holds."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="smart-edu-scrub-")
        self._db = sqlite3.connect(str(Path(self._dir.name) / "rows.sqlite"))
        # A scratch file thrown away at the end: no rollback journal, no fsync.
        for pragma in ("journal_mode = OFF", "synchronous = OFF"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE rows (day TEXT, patient TEXT, charge TEXT, body BLOB)")
        self._count = 0
        self.tally = Tally()
        self._findings: list[dict[str, Any]] = []
        self._numbers: dict[bytes, int] = {}
        self._by_identity: dict[int, tuple[int, dict[str, Any]]] = {}

    def _number(self, finding: dict[str, Any]) -> int | dict[str, Any]:
        # In this process the scrub hands out one dict per distinct finding (visit.finding_dict), so identity
        # finds most. Each dict looked up by identity is held here (so its id is never reused meanwhile); the
        # identity map is bounded and refilled from the content digests when cleared.
        seen = self._by_identity.get(id(finding))
        if seen is not None:
            return seen[0]
        # a digest, not the finding's JSON (kilobytes, with its sources) as the key
        key = hashlib.blake2b(orjson.dumps(finding, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
        number = self._numbers.get(key)
        if number is None:
            if len(self._findings) >= TABLE_LIMIT:
                return finding  # a finding of one charge (it names a charge, an order...): kept inline
            number = self._numbers[key] = len(self._findings)
            self._findings.append(finding)
        if len(self._by_identity) >= 2 * TABLE_LIMIT:
            self._by_identity.clear()
        self._by_identity[id(finding)] = (number, finding)
        return number

    def add(self, rows: list[Row]) -> None:
        stored = []
        for row in rows:
            self.tally.add(row)
            body = orjson.dumps(row | {"findings": [self._number(f) for f in row["findings"]]})
            stored.append((*sort_key(row), body))
        self._db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", stored)
        self._count += len(rows)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Row]:
        findings = self._findings
        cursor = self._db.execute("SELECT body FROM rows ORDER BY day, patient, charge")
        for (body,) in cursor:
            row = orjson.loads(body)
            row["findings"] = [findings[n] if type(n) is int else n for n in row["findings"]]
            yield row

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()
