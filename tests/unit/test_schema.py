"""The store's schema comes from the Alembic migrations: they agree with the models, make an empty store, and
upgrade a store made by an earlier version in place without losing a draft."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime, inspect, text
from sqlalchemy.exc import StatementError

from smart_app.point_of_care import drafts
from smart_app.store import Base, Database, LaunchRecord, schema

ROOT = Path(__file__).resolve().parents[2]


def test_an_empty_store_is_migrated_to_head_and_matches_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    db.create_all()
    assert schema.current(db.engine) == schema.head()
    assert schema.differences(db.engine) == []
    db.dispose()


def test_a_store_of_an_earlier_version_is_upgraded_in_place_and_keeps_its_drafts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url)
    Base.metadata.create_all(old.engine)  # how versions before the migrations made the store
    with old.engine.begin() as conn:  # ... before poc_drafts.note_basis and the outbox existed
        conn.execute(text("DROP TABLE writeback_outbox"))
        conn.execute(text("ALTER TABLE poc_drafts DROP COLUMN note_basis"))
        conn.execute(
            text(
                "INSERT INTO poc_drafts (id, issuer, patient_id, encounter_id, clinician, status,"
                " fields_json, note_text, launch_handle, created_at, updated_at) VALUES ('d1',"
                " 'https://ehr.test/fhir', 'p1', 'e1', 'Practitioner/1', 'open', '{\"code\": \"98960\"}',"
                " 'the clinician''s note', 'h', '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
            )
        )
    old.dispose()
    assert "note_basis" not in {c["name"] for c in inspect(Database(url).engine).get_columns("poc_drafts")}

    upgraded = Database(url)
    upgraded.create_all()  # what create_app and the commands do at start
    assert schema.current(upgraded.engine) == schema.head()
    assert schema.differences(upgraded.engine) == []
    kept = drafts.get(upgraded, "d1")
    assert kept is not None and kept.note_text == "the clinician's note" and kept.fields == {"code": "98960"}
    assert kept.note_basis is None
    drafts.save(upgraded, kept.key, kept.fields, handle="h", note_text="edited", note_basis="b1")
    assert drafts.get(upgraded, "d1").note_basis == "b1"  # type: ignore[union-attr]
    upgraded.dispose()


def test_two_workers_starting_together_both_get_a_migrated_store(tmp_path: Path) -> None:
    """gunicorn starts 2 worker processes on one store: both upgrade it at the same moment."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    go = tmp_path / "go"
    script = (
        "import sys, time, pathlib\n"
        "from smart_app.store import Database\n"
        "db = Database(sys.argv[1])\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.005)\n"
        "db.create_all()\n"
    )
    workers = [subprocess.Popen([sys.executable, "-c", script, url, str(go)], cwd=ROOT) for _ in range(2)]
    time.sleep(1.0)
    go.touch()
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    db = Database(url)
    assert schema.current(db.engine) == schema.head() and schema.differences(db.engine) == []
    db.dispose()


def test_the_baseline_is_never_downgraded(tmp_path: Path) -> None:
    from alembic import command

    db = Database(f"sqlite:///{tmp_path / 'keep.db'}")
    db.create_all()
    with db.engine.begin() as conn, pytest.raises(NotImplementedError):
        cfg = schema.alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    db.dispose()


def _upgrade_to(db: Database, revision: str) -> None:
    from alembic import command

    with db.engine.begin() as conn:
        cfg = schema.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_timestamps_of_a_baseline_store_read_back_as_utc_after_the_upgrade(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'v1.db'}")
    _upgrade_to(db, "0001")
    with db.engine.begin() as conn:  # as version 1 wrote it: naive UTC
        conn.execute(
            text(
                "INSERT INTO launch_records (state, binding, profile_name, iss, launch_type, redirect_uri,"
                " status, created_at, expires_at, context_json, id_token_verified)"
                " VALUES ('s', 'b', 'p', 'https://ehr.test', 'ehr', 'https://app.test/callback', 'active',"
                " '2026-03-01 10:00:00.000000', '2026-03-01 22:00:00.000000', '{}', 0)"
            )
        )
    db.create_all()
    assert schema.current(db.engine) == schema.head()
    with db.session() as s:
        record = s.query(LaunchRecord).one()
        assert record.created_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
        assert record.expires_at.tzinfo is UTC and record.state_used_at is None
    db.dispose()


def launch_record(state: str, expires_at: datetime) -> LaunchRecord:
    return LaunchRecord(
        state=state,
        binding="b",
        profile_name="p",
        iss="https://ehr.test",
        launch_type="ehr",
        redirect_uri="https://app.test/callback",
        expires_at=expires_at,
    )


def test_every_timestamp_comes_back_aware_and_a_naive_one_is_refused(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tz.db'}")
    db.create_all()
    eastern = timezone(timedelta(hours=-5))
    with db.session() as s:
        s.add(launch_record("s1", datetime(2026, 3, 1, 5, tzinfo=eastern)))
    with db.session() as s:
        record = s.query(LaunchRecord).one()
        assert record.expires_at == datetime(2026, 3, 1, 10, tzinfo=UTC) and record.expires_at.tzinfo is UTC
        assert record.created_at.tzinfo is UTC
    with pytest.raises(StatementError, match="naive datetime"), db.session() as s:
        s.add(launch_record("s2", datetime(2026, 3, 1, 5)))
    db.dispose()


def test_no_column_of_the_store_is_a_plain_datetime() -> None:
    from smart_app.store import metadata
    from smart_app.store.types import UtcDateTime

    plain = [
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, DateTime) and not isinstance(column.type, UtcDateTime)
    ]
    assert plain == []
