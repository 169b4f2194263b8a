"""FHIR R4 resource store on SQLite (a file, or memory for tests).

One connection guarded by a lock: the sandbox is a single-process development server, and one writer at a
time is what makes ``transaction`` atomic for free. Search runs on an index table filled at write time.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox_ehr.searchparams import PARAMS, index_rows, patient_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS resource (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL,
    patient TEXT, body TEXT NOT NULL, PRIMARY KEY (type, id));
CREATE TABLE IF NOT EXISTS idx (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT NOT NULL, value2 TEXT);
CREATE INDEX IF NOT EXISTS idx_lookup ON idx (type, param, value);
CREATE INDEX IF NOT EXISTS idx_owner ON idx (type, id);
CREATE INDEX IF NOT EXISTS resource_patient ON resource (type, patient);
"""

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


class SearchError(ValueError):
    """A search the store cannot answer (unknown parameter or modifier); the API turns it into a 400."""


class VersionConflict(Exception):
    """``If-Match`` named a version that is no longer current."""


@dataclass(frozen=True)
class Criterion:
    """One search parameter from the query string: ``name[:modifier]=v1,v2`` (values are OR-ed)."""

    name: str
    modifier: str | None
    values: tuple[str, ...]


def now_instant() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FhirStore:
    """CRUD and search over FHIR JSON resources; every write stamps ``meta.versionId``/``lastUpdated``."""

    def __init__(self, path: str = ":memory:") -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.executescript(SCHEMA)
        self._snapshot: sqlite3.Connection | None = None

    # -- units of work -------------------------------------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[None]:
        """All writes inside commit together or not at all (nested calls join the outer unit)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def snapshot(self) -> None:
        """Remember the current contents (after seeding) so tests can ``reset()`` cheaply."""
        with self._lock:
            self._snapshot = sqlite3.connect(":memory:", check_same_thread=False)
            self._conn.backup(self._snapshot)

    def reset(self) -> None:
        with self._lock:
            if self._snapshot is None:
                raise RuntimeError("no snapshot taken")
            self._snapshot.backup(self._conn)

    # -- reads ---------------------------------------------------------------------------------------------
    def read(self, rtype: str, rid: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM resource WHERE type=? AND id=?", (rtype, rid)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def count(self, rtype: str | None = None) -> int:
        sql, args = (
            ("SELECT COUNT(*) FROM resource", ())
            if rtype is None
            else (
                "SELECT COUNT(*) FROM resource WHERE type=?",
                (rtype,),
            )
        )
        with self._lock:
            return int(self._conn.execute(sql, args).fetchone()[0])

    def scan(self, rtype: str, *, since: str | None = None) -> list[tuple[str, str | None]]:
        """(stored JSON, owning patient id) of every ``rtype`` resource in insertion order, optionally only
        those updated after ``since`` (an instant in this store's ``...Z`` form): what a bulk export reads."""
        sql, args = (
            "SELECT body, CASE WHEN type='Patient' THEN id ELSE patient END FROM resource WHERE type=?",
            [rtype],
        )
        if since is not None:
            sql += " AND updated > ?"
            args.append(since)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY rowid", args).fetchall()
        return [(str(r[0]), r[1]) for r in rows]

    def search(
        self,
        rtype: str,
        criteria: list[Criterion],
        *,
        patient: str | None = None,
        count: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Matching resources (insertion order) and the total; ``patient`` limits to one compartment."""
        where, args = ["r.type = ?"], [rtype]
        for crit in criteria:
            clause, extra = self._clause(rtype, crit)
            where.append(clause)
            args.extend(extra)
        if patient is not None:
            where.append("r.patient = ?")
            args.append(patient)
        cond = " AND ".join(where)
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM resource r WHERE {cond}", args).fetchone()[0]  # noqa: S608
            rows = self._conn.execute(
                f"SELECT body FROM resource r WHERE {cond} ORDER BY r.rowid LIMIT ? OFFSET ?",  # noqa: S608
                [*args, count, offset],
            ).fetchall()
        return int(total), [json.loads(r[0]) for r in rows]

    def _clause(self, rtype: str, crit: Criterion) -> tuple[str, list[str]]:
        if crit.name == "_id":
            marks = ",".join("?" * len(crit.values))
            return f"r.id IN ({marks})", list(crit.values)
        param = PARAMS.get(rtype, {}).get(crit.name)
        if param is None:
            raise SearchError(f"unsupported search parameter {rtype}?{crit.name}")
        allowed_modifiers: set[str | None] = {None, "exact"} if param.kind == "string" else {None}
        if crit.modifier not in allowed_modifiers:
            raise SearchError(f"unsupported modifier {crit.name}:{crit.modifier}")
        sub = "r.id IN (SELECT i.id FROM idx i WHERE i.type = ? AND i.param = ? AND ({}))"
        parts: list[str] = []
        args: list[str] = [rtype, crit.name]
        for value in crit.values:
            part, extra = _value_clause(param.kind, crit.modifier, value)
            parts.append(part)
            args.extend(extra)
        return sub.format(" OR ".join(parts)), args

    # -- writes --------------------------------------------------------------------------------------------
    def put(self, resource: dict[str, Any], *, if_match: str | None = None) -> tuple[dict[str, Any], bool]:
        """Create or replace ``resource`` under its own id; returns (stored copy, created?)."""
        rtype, rid = resource["resourceType"], str(resource["id"])
        with self.atomic():
            row = self._conn.execute(
                "SELECT version FROM resource WHERE type=? AND id=?", (rtype, rid)
            ).fetchone()
            version = (row[0] if row else 0) + 1
            if if_match is not None and (row is None or str(row[0]) != if_match):
                raise VersionConflict(f"{rtype}/{rid} is not at version {if_match}")
            stored = dict(resource)
            stored["meta"] = {
                **resource.get("meta", {}),
                "versionId": str(version),
                "lastUpdated": now_instant(),
            }
            body = json.dumps(stored, separators=(",", ":"))
            owner = patient_of(stored)
            if row:
                self._conn.execute(
                    "UPDATE resource SET version=?, updated=?, patient=?, body=? WHERE type=? AND id=?",
                    (version, stored["meta"]["lastUpdated"], owner, body, rtype, rid),
                )
                self._conn.execute("DELETE FROM idx WHERE type=? AND id=?", (rtype, rid))
            else:
                self._conn.execute(
                    "INSERT INTO resource (type, id, version, updated, patient, body) VALUES (?,?,?,?,?,?)",
                    (rtype, rid, version, stored["meta"]["lastUpdated"], owner, body),
                )
            self._conn.executemany(
                "INSERT INTO idx (type, id, param, value, value2) VALUES (?,?,?,?,?)",
                [(rtype, rid, p, v, v2) for p, v, v2 in index_rows(stored)],
            )
        return stored, row is None

    def load_new(self, resources: list[dict[str, Any]]) -> None:
        """Insert resources not in the store yet, as version 1, one statement per table (seeding)."""
        stamp = now_instant()
        rows: list[tuple[Any, ...]] = []
        index: list[tuple[Any, ...]] = []
        for resource in resources:
            stored = {
                **resource,
                "meta": {**resource.get("meta", {}), "versionId": "1", "lastUpdated": stamp},
            }
            rtype, rid = stored["resourceType"], str(stored["id"])
            body = json.dumps(stored, separators=(",", ":"))
            rows.append((rtype, rid, 1, stamp, patient_of(stored), body))
            index.extend((rtype, rid, p, v, v2) for p, v, v2 in index_rows(stored))
        with self.atomic():
            self._conn.executemany(
                "INSERT INTO resource (type, id, version, updated, patient, body) VALUES (?,?,?,?,?,?)", rows
            )
            self._conn.executemany(
                "INSERT INTO idx (type, id, param, value, value2) VALUES (?,?,?,?,?)", index
            )

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Store a new resource under a fresh server-assigned id."""
        stored, _ = self.put({**resource, "id": uuid.uuid4().hex})
        return stored


def _value_clause(kind: str, modifier: str | None, value: str) -> tuple[str, list[str]]:
    if kind == "string":
        if modifier == "exact":
            return "i.value = ?", [value.lower()]
        return "i.value LIKE ? ESCAPE '\\'", [_like_prefix(value.lower())]
    if kind == "date":
        prefix, date = (value[:2], value[2:]) if value[:2] in DATE_PREFIXES else ("eq", value)
        hi = date + "\uffff"  # every instant inside the given precision sorts below this
        clauses = {
            "eq": ("i.value <= ? AND i.value2 >= ?", [hi, date]),
            "ne": ("NOT (i.value <= ? AND i.value2 >= ?)", [hi, date]),
            "ge": ("i.value2 >= ?", [date]),
            "gt": ("i.value2 > ?", [hi]),
            "le": ("i.value <= ?", [hi]),
            "lt": ("i.value < ?", [date]),
        }
        return clauses[prefix]
    return "i.value = ?", [value]


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
