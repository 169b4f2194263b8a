"""Schema upgrades of the app's store with Alembic (``smart-edu db upgrade``; SQLite stores at every start).

Why Alembic: a deployment upgrades in place and clinicians must never lose drafts, so a new column (e.g.
``poc_drafts.note_basis``) has to reach a database an earlier version created; Alembic is SQLAlchemy's own
migration tool and works the same on SQLite (batch mode) and PostgreSQL. The baseline ``0001`` also adopts a
database made before Alembic (by ``create_all``): it creates what is missing and adds missing columns.

Who upgrades: on PostgreSQL the operator, once per deploy, with ``smart-edu db upgrade``; every instance may
run it at the same moment, because the upgrade runs in one transaction under a PostgreSQL advisory lock
(the second waits, then finds the store at head). Nothing else migrates a server database: ``serve``, the app
and every other command open a store with ``prepare``, which refuses an old schema (``require_current``),
naming the command. A SQLite store (one machine: the demo, a first local run, the command line's own store)
upgrades itself at start; two processes racing there retry and find it done.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).with_name("migrations")
ATTEMPTS = 3
UPGRADE_COMMAND = "smart-edu db upgrade"
# pg_advisory_xact_lock key of the schema upgrade: one fixed 64-bit number ("smedu-db" in ASCII)
ADVISORY_LOCK_KEY = int.from_bytes(b"smedu-db", "big") & 0x7FFF_FFFF_FFFF_FFFF
_LOCK = threading.Lock()  # Alembic's ``op``/``context`` are module-level proxies: one migration per process


class SchemaOutOfDate(RuntimeError):
    """The store's schema is not the one this version of the app needs; the message says what to run."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: an empty store (no alembic_version)
    head: str
    known: bool  # False: a revision this version does not know (a newer version migrated the store)

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        """One line for a person: where the store is and what to do."""
        if self.at_head:
            return f"{self.head} (head)"
        if not self.known:
            return (
                f"{self.current}, a revision this version does not know (head is {self.head}): "
                "a newer version of the app migrated this store; run that version"
            )
        where = "none (an empty store)" if self.current is None else str(self.current)
        return f"{where}; this version needs {self.head}: run `{UPGRADE_COMMAND}`"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@cache
def head() -> str:
    """The newest revision this version of the app knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


@cache
def _known_revisions() -> frozenset[str]:
    return frozenset(r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _current(conn)


def status(engine: Engine) -> SchemaStatus:
    now = current(engine)
    return SchemaStatus(now, head(), now is None or now in _known_revisions())


def is_server_database(engine: Engine) -> bool:
    """True for a database shared by several app servers (anything but a SQLite file)."""
    return engine.dialect.name != "sqlite"


def require_current(engine: Engine) -> None:
    """Refuse (``SchemaOutOfDate``) a store that is not at this version's head; nothing is changed."""
    found = status(engine)
    if not found.at_head:
        raise SchemaOutOfDate(f"the store's schema is at {found.describe()}")


def prepare(engine: Engine) -> None:
    """Make the store usable by this process without ever migrating a shared one: a SQLite store (one
    machine) is upgraded in place; a server database is only checked (``SchemaOutOfDate``, naming
    ``smart-edu db upgrade``), for every process that opens it (the app, ``outbox``, ``audit``, ``purge``,
    ``sandbox-test``). Only ``smart-edu db upgrade`` migrates it: once per deploy, under the advisory lock."""
    if is_server_database(engine):
        require_current(engine)
    else:
        upgrade(engine)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the store to ``head``; a no-op (one query) when it is there already. Returns (before, after)."""
    with _LOCK:
        if engine.dialect.name == "postgresql":
            return _upgrade_locked(engine)
        return _upgrade_retrying(engine)


def _upgrade_locked(engine: Engine) -> tuple[str | None, str]:
    """One transaction under the advisory lock: DDL is transactional on PostgreSQL, so a concurrent upgrade
    waits for this one to commit and then reads the new revision; an upgrade that fails leaves nothing."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        before = _current(conn)
        if before != head():
            _run_alembic(conn)
    return before, head()


def _upgrade_retrying(engine: Engine) -> tuple[str | None, str]:
    for attempt in range(ATTEMPTS):
        try:
            # Inside the retry: a connection opened while the other process switches the file to WAL may
            # be refused at once ("database is locked"; SQLite's busy handler does not cover that case).
            before = current(engine)
            if before == head():
                return before, head()
            with engine.begin() as conn:
                _run_alembic(conn)
            return before, head()
        except DBAPIError:  # another process upgraded at the same moment ("already exists", locked)
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _run_alembic(conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def differences(engine: Engine) -> list[object]:
    """What the models declare that the database lacks (or has differently): [] when they agree."""
    from smart_app.store import Base

    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
