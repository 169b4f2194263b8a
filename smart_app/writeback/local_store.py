"""The command line's local store: ``SMART_EDU_DATABASE_URL``, else a SQLite file in a per-user data folder.

The schema is the app's own (one set of migrations), so the store can be shared with the app.
"""

from __future__ import annotations

import os
from pathlib import Path

from smart_app.db import Database


def default_database_url() -> str:
    url = os.environ.get("SMART_EDU_DATABASE_URL")
    if url:
        return url
    root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = root / "smart-edu-billing"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'smart-edu.db'}"


def open_database(url: str | None = None) -> Database:
    """The store, migrated to the newest schema (the same migrations as the app's, so a store shared with
    the app, or made by an earlier version, is upgraded in place and keeps its outbox)."""
    db = Database(url or default_database_url())
    db.create_all()
    return db
