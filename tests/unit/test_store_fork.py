"""No pooled database connection is used by two processes (issue 10, fork safety under gunicorn workers)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from smart_app.store import Database


def test_a_pooled_connection_of_another_process_is_discarded_at_checkout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fork.db'}")
    with db.engine.connect() as conn:
        first = conn.connection.dbapi_connection
        conn.connection._connection_record.info["pid"] = -1  # as if opened by the parent before a fork
    with db.engine.connect() as conn:
        assert conn.connection.dbapi_connection is not first
        assert conn.execute(text("SELECT 1")).scalar() == 1
    db.dispose()


def test_after_a_fork_the_inherited_pool_is_dropped_without_closing_the_parents_connections(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fork.db'}")
    with db.engine.connect() as conn:
        inherited = conn.connection.dbapi_connection
    db.after_fork()
    assert inherited is not None and inherited.execute("SELECT 1").fetchone() == (1,)  # still the parent's
    with db.engine.connect() as conn:
        assert conn.connection.dbapi_connection is not inherited
    db.dispose()
