"""The store's migrations on a real PostgreSQL: a version-1 store is upgraded in place (its naive UTC
timestamps become ``timestamp with time zone`` and keep their meaning)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

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
