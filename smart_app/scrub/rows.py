"""Where the report rows wait until they are written: in memory (a list, for the API and tests) or on disk
(SQLite in a temporary file, for the command), so the command's memory does not grow with the export.

Both give the rows in the report's order, (date, patient, chargeitem), each time they are iterated.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from smart_app.scrub.tally import Tally

Row = dict[str, Any]


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
    """Rows in a temporary SQLite file, read back sorted (SQLite's text order is Python's for UTF-8)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="smart-edu-scrub-")
        self._db = sqlite3.connect(str(Path(self._dir.name) / "rows.sqlite"))
        self._db.execute("CREATE TABLE rows (day TEXT, patient TEXT, charge TEXT, body TEXT)")
        self._count = 0
        self.tally = Tally()

    def add(self, rows: list[Row]) -> None:
        for row in rows:
            self.tally.add(row)
        self._db.executemany(
            "INSERT INTO rows VALUES (?, ?, ?, ?)", [(*sort_key(r), orjson.dumps(r)) for r in rows]
        )
        self._count += len(rows)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Row]:
        cursor = self._db.execute("SELECT body FROM rows ORDER BY day, patient, charge")
        for (body,) in cursor:
            yield orjson.loads(body)

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()
