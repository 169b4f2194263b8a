"""The database handle: one SQLAlchemy engine per app, every table declared on one ``Base`` (this package).

SQLite by default (a file in the instance folder), PostgreSQL or any other database by URL.
``Database.create_all`` runs the migrations (``store/migrations``) that make and upgrade the tables;
``Database.prepare`` is what the app and the commands call: it migrates a SQLite store only, and refuses a
PostgreSQL store whose schema is behind (``smart-edu db upgrade`` migrates that).

Fork safety: ``smart-edu serve`` builds the app in the gunicorn master and forks its workers from it. A
connection (a socket and the driver's state: prepared statements, a transaction) must never be used by two
processes: the pool's connections remember the process that opened them and a checkout in another process
discards them (SQLAlchemy's documented recipe), a forked worker drops the inherited pool without closing the
parent's sockets (``after_fork``), and PostgreSQL connections are pre-pinged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    pass


class Database:
    """An engine and a session factory; ``session()`` is a unit of work that commits or rolls back."""

    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_pre_ping"] = True
        self.url = url
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "connect", _remember_process)
        event.listen(self.engine, "checkout", _same_process_only)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        """Bring the store to the newest schema with the Alembic migrations (``store.schema``): an empty
        store is created, one made by an earlier version is upgraded in place and keeps every row."""
        from smart_app.store import schema

        schema.upgrade(self.engine)

    def prepare(self) -> None:
        """Make the store ready for this process (``store.schema.prepare``): a SQLite store is upgraded in
        place, a server database (PostgreSQL) only checked: ``SchemaOutOfDate`` when it is behind, because
        only ``smart-edu db upgrade`` migrates a database several instances share."""
        from smart_app.store import schema

        schema.prepare(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        s = self._factory()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def after_fork(self) -> None:
        """In a forked child: forget the parent's pooled connections without closing them (they are the
        parent's); this process opens its own on first use."""
        self.engine.dispose(close=False)


def _remember_process(_dbapi_conn: Any, record: Any) -> None:
    record.info["pid"] = os.getpid()


def _same_process_only(_dbapi_conn: Any, record: Any, proxy: Any) -> None:
    """A pooled connection opened by another process (inherited through a fork) is discarded, never used."""
    pid = os.getpid()
    if record.info.get("pid", pid) != pid:
        record.dbapi_connection = proxy.dbapi_connection = None
        raise exc.DisconnectionError(
            f"connection opened in process {record.info['pid']}, checked out in {pid}"
        )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
