"""``smart-edu db upgrade|current`` on a SQLite store, and ``serve``'s store check (PostgreSQL cases run
against a real server in tests/e2e/test_postgres_migrations.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from smart_app.cli import main
from smart_app.commands.serve import store_refusal
from smart_app.settings import load_settings
from smart_app.store import Database, schema


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", url)
    return url


def test_current_then_upgrade_then_upgrade_again(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current"]) == 2  # no store yet: said so, and nothing is created
    assert "does not exist" in capsys.readouterr().err and not Path(store.removeprefix("sqlite:///")).exists()
    Database(store).dispose()
    Path(store.removeprefix("sqlite:///")).touch()  # an empty database file
    assert main(["db", "current"]) == 1
    out, err = capsys.readouterr()
    assert "an empty store" in out and "run `smart-edu db upgrade`" in out and store in err
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"upgraded an empty store -> {schema.head()} (head)\n"
    assert main(["db", "upgrade"]) == 0  # idempotent: a second deploy step changes nothing
    assert capsys.readouterr().out == f"already at {schema.head()} (head)\n"
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out == f"{schema.head()} (head)\n"
    db = Database(store)
    assert schema.differences(db.engine) == []
    db.dispose()


def test_an_older_store_is_named_and_upgraded_keeping_its_rows(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from alembic import command

    db = Database(store)
    with db.engine.begin() as conn:
        cfg = schema.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO cds_jwt_seen (iss, jti, expires_at) VALUES ('i', 'j', 1)"))
    assert main(["db", "current"]) == 1
    assert capsys.readouterr().out.startswith(f"0001; this version needs {schema.head()}")
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"upgraded 0001 -> {schema.head()} (head)\n"
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cds_jwt_seen")).scalar() == 1
    db.dispose()


def test_a_store_migrated_by_a_newer_version_is_refused(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(store)
    db.create_all()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert main(["db", "current"]) == 1
    assert "9999, a revision this version does not know" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 2
    assert "a newer version of the app migrated this store" in capsys.readouterr().err
    assert schema.current(db.engine) == "9999"
    db.dispose()


def test_an_unreachable_store_is_exit_2_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    assert main(["db", "upgrade"]) == 2
    assert "cannot use the store: OperationalError" in capsys.readouterr().err


def test_serve_lets_a_sqlite_store_migrate_itself(store: str) -> None:
    assert store_refusal(load_settings()) is None  # empty, but SQLite: create_app upgrades it
    assert store_refusal(load_settings(environ={})) is None  # the instance folder's file


@pytest.mark.parametrize("command", [["outbox", "list"], ["audit"], ["purge", "--dry-run"]])
def test_the_commands_still_upgrade_a_sqlite_store_themselves(
    store: str, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """One machine, one store: no deploy step is asked of a SQLite user (PostgreSQL refuses instead:
    tests/e2e/test_postgres_migrations.py)."""
    from alembic import command as alembic

    db = Database(store)
    with db.engine.begin() as conn:
        cfg = schema.alembic_config()
        cfg.attributes["connection"] = conn
        alembic.upgrade(cfg, "0001")
    assert main(command) == 0, capsys.readouterr().err
    assert schema.current(db.engine) == schema.head()
    db.dispose()
