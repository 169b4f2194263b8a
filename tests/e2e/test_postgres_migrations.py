"""The store's migrations on a real PostgreSQL: a version-1 store is upgraded in place (its naive UTC
timestamps become ``timestamp with time zone`` and keep their meaning); ``smart-edu db upgrade`` run by
every instance at once ends with one correct schema; ``serve`` refuses an old or empty schema, naming the
command."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from smart_app.commands.serve import store_refusal
from smart_app.settings import load_settings
from smart_app.store import Database, LaunchRecord, schema
from tests.e2e import postgres_kit

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = postgres_kit.missing()
    if reason:
        pytest.skip(reason)
    with postgres_kit.cluster() as url:
        yield url


def new_database(pg_url: str, name: str) -> str:
    """A fresh empty database in the cluster; its URL."""
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return pg_url.rsplit("/", 1)[0] + "/" + name


def _upgrade_to(db: Database, revision: str) -> None:
    with db.engine.begin() as conn:
        cfg = schema.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_a_version_1_store_gets_timezone_aware_timestamps_that_keep_their_meaning(pg_url: str) -> None:
    db = Database(new_database(pg_url, "v1_store"))
    _upgrade_to(db, "0001")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO launch_records (state, binding, profile_name, iss, launch_type, redirect_uri,"
                " status, created_at, expires_at, context_json, id_token_verified)"
                " VALUES ('s', 'b', 'p', 'https://ehr.test', 'ehr', 'https://app.test/callback', 'active',"
                " '2026-03-01 10:00:00', '2026-03-01 22:00:00', '{}', false)"
            )
        )
    db.create_all()
    assert schema.current(db.engine) == schema.head() and schema.differences(db.engine) == []
    types = {c["name"]: c["type"] for c in inspect(db.engine).get_columns("launch_records")}
    assert types["created_at"].timezone is True and types["token_expires_at"].timezone is True
    with db.session() as s:
        record = s.query(LaunchRecord).one()
        assert record.created_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
        assert record.expires_at == datetime(2026, 3, 1, 22, tzinfo=UTC)
    db.dispose()


def _cli(url: str, *argv: str) -> subprocess.Popen[str]:
    env = os.environ | {"SMART_EDU_DATABASE_URL": url, "SMART_EDU_SECRET_KEY": "k" * 64}
    return subprocess.Popen(
        [sys.executable, "-c", GATED_CLI, str(GO), *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# Each process imports everything first, then waits at the gate, so they all reach the database together.
GATED_CLI = (
    "import os, pathlib, sys, time\n"
    "from smart_app.cli import main\n"
    "import smart_app.commands.db, smart_app.commands.serve\n"
    "gate = pathlib.Path(sys.argv[1])\n"
    "pathlib.Path(f'{gate}.ready-{os.getpid()}').touch()\n"
    "while not gate.exists(): time.sleep(0.002)\n"
    "sys.exit(main(sys.argv[2:]))\n"
)
GO = Path(tempfile.gettempdir()) / f"smart-edu-db-go-{os.getpid()}"


@pytest.mark.parametrize("trial", range(3))
def test_every_instance_running_db_upgrade_at_once_ends_with_one_correct_schema(
    pg_url: str, trial: int
) -> None:
    url = new_database(pg_url, f"deploy_{trial}")
    GO.unlink(missing_ok=True)
    processes = [_cli(url, "db", "upgrade") for _ in range(5)]
    ready = [Path(f"{GO}.ready-{p.pid}") for p in processes]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)  # every process imported and waits at the gate: release them together
    GO.touch()
    try:
        outputs = [p.communicate(timeout=120) for p in processes]
        results = [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs, strict=True)]
    finally:
        GO.unlink(missing_ok=True)
        for r in ready:
            r.unlink(missing_ok=True)
    assert [code for code, _, _ in results] == [0] * 5, [err for _, _, err in results]
    outs = sorted(out for _, out, _ in results)
    head = schema.head()
    assert outs == [f"already at {head} (head)\n"] * 4 + [f"upgraded an empty store -> {head} (head)\n"]
    db = Database(url)
    assert schema.current(db.engine) == head and schema.differences(db.engine) == []
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    db.dispose()


def test_serve_refuses_an_old_postgresql_schema_naming_the_command_and_changes_nothing(pg_url: str) -> None:
    url = new_database(pg_url, "old_for_serve")
    db = Database(url)
    _upgrade_to(db, "0001")
    GO.touch()
    try:
        serve = _cli(url, "serve", "--port", "0")
        _, err = serve.communicate(timeout=120)
        code = serve.returncode
    finally:
        GO.unlink(missing_ok=True)
        Path(f"{GO}.ready-{serve.pid}").unlink(missing_ok=True)
    assert code == 2, err
    assert f"the store's schema is at 0001; this version needs {schema.head()}" in err
    assert "run `smart-edu db upgrade`" in err and "serve does not migrate a shared database itself" in err
    assert schema.current(db.engine) == "0001"  # untouched
    assert store_refusal(load_settings({"SMART_EDU_DATABASE_URL": url})) is not None
    schema.upgrade(db.engine)
    assert store_refusal(load_settings({"SMART_EDU_DATABASE_URL": url})) is None
    db.dispose()


def test_serve_refuses_an_empty_postgresql_store(pg_url: str) -> None:
    url = new_database(pg_url, "empty_for_serve")
    refusal = store_refusal(load_settings({"SMART_EDU_DATABASE_URL": url}))
    assert refusal is not None and "none (an empty store)" in refusal and "smart-edu db upgrade" in refusal
    db = Database(url)
    assert schema.current(db.engine) is None
    db.dispose()


def test_purge_takes_the_same_rows_on_postgresql(pg_url: str) -> None:
    from tests.unit import test_purge

    db = Database(new_database(pg_url, "purge"))
    schema.upgrade(db.engine)
    test_purge.test_each_kind_goes_exactly_when_its_retention_says(db)
    db.dispose()
    db = Database(new_database(pg_url, "purge_dry"))
    schema.upgrade(db.engine)
    test_purge.test_a_dry_run_deletes_nothing_and_counts_what_the_run_deletes(db)
    db.dispose()


OPERATOR_COMMANDS = (
    ("outbox", "list"), ("outbox", "retry"), ("audit",), ("audit", "--feedback"),
    ("purge",), ("purge", "--dry-run"),
)  # fmt: skip


@pytest.mark.parametrize("start", [None, "0001"])
def test_every_command_refuses_an_old_or_empty_postgresql_schema_naming_db_upgrade_and_changes_nothing(
    pg_url: str,
    start: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only `smart-edu db upgrade` migrates a shared database: the operator's commands (a scheduled `purge`
    or `outbox retry` may well run before the deploy step) and the app itself refuse, as `serve` does."""
    import responses

    from smart_app import create_app
    from smart_app.cli import main
    from smart_app.reads import forget_capabilities
    from tests.http.test_sandbox_test import chart, sandbox_test, service_file
    from tests.http.test_writeback_fake import FakeFhir, hapi_caps

    url = new_database(pg_url, f"operator_{start or 'empty'}")
    db = Database(url)
    if start:
        _upgrade_to(db, start)
    tables = set(inspect(db.engine).get_table_names())
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", url)
    monkeypatch.delenv("SMART_EDU_BEARER_TOKEN", raising=False)
    where = start or "none (an empty store)"
    behind = (
        f"the store's schema is at {where}; this version needs {schema.head()}: run `smart-edu db upgrade`"
    )
    for argv in OPERATOR_COMMANDS:
        assert main(list(argv)) == 2, argv
        out, err = capsys.readouterr()
        prog = f"smart-edu {argv[0]}"
        assert out == "" and f"{prog}: {behind}; {prog} does not migrate a shared database itself\n" in err
    forget_capabilities()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeFhir(hapi_caps()).seed(*chart()).install(rsps)
        code, _, err = sandbox_test(capsys, "--service", service_file(tmp_path), "--write")
    forget_capabilities()
    assert code == 2 and f"smart-edu sandbox-test: {behind}" in err
    assert fake.of_type("ChargeItem") == [] and fake.of_type("DocumentReference") == []  # nothing sent
    with pytest.raises(schema.SchemaOutOfDate, match="smart-edu db upgrade"):
        create_app({"TESTING": True, "SMART_EDU_DATABASE_URL": url})
    assert schema.current(db.engine) == start and set(inspect(db.engine).get_table_names()) == tables

    assert main(["db", "upgrade"]) == 0  # the deploy step; then every command works on the store
    capsys.readouterr()
    for argv in OPERATOR_COMMANDS:
        assert main(list(argv)) == 0, (argv, capsys.readouterr().err)
    db.dispose()
