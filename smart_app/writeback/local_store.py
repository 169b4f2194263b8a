"""The command line's local store: ``SMART_EDU_DATABASE_URL``, else a SQLite file in a per-user data folder.

Only write-back's own tables are created here, so ``sandbox-test`` and ``outbox`` do not depend on the rest of
the app's schema.
"""

from __future__ import annotations

import os
from pathlib import Path

from smart_app.db import Base, Database
from smart_app.writeback import tables


def default_database_url() -> str:
    url = os.environ.get("SMART_EDU_DATABASE_URL")
    if url:
        return url
    root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = root / "smart-edu-billing"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'smart-edu.db'}"


def open_database(url: str | None = None) -> Database:
    db = Database(url or default_database_url())
    names = [
        t.__tablename__ for t in (tables.WriteJob, tables.LedgerStep, tables.OutboxEntry, tables.AuditRow)
    ]
    Base.metadata.create_all(db.engine, tables=[Base.metadata.tables[n] for n in names])
    return db
