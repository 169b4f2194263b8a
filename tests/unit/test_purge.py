"""`smart-edu purge`: each kind of row goes exactly when its retention says, at the boundary to the second;
what is still needed (an active launch, an unsent outbox entry, a draft being signed or waiting, a running
write, young audit rows) is never touched; a dry run deletes nothing and counts the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from smart_app.cli import main
from smart_app.store import (
    AuditRow,
    CdsCardIssued,
    CdsFeedback,
    CdsJwtSeen,
    Database,
    DraftRow,
    LaunchContextRow,
    LaunchRecord,
    LedgerStep,
    OutboxEntry,
    WriteJob,
)
from smart_app.store.retention import Retention, purge

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
RETENTION = Retention(NOW, retention_days=30, audit_retention_days=2557)
OLD = RETENTION.cutoff - timedelta(seconds=1)  # past retention
YOUNG = RETENTION.cutoff + timedelta(seconds=1)  # inside it
AUDIT_OLD = RETENTION.audit_cutoff - timedelta(seconds=1)
AUDIT_YOUNG = RETENTION.audit_cutoff + timedelta(seconds=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    database.create_all()
    yield database
    database.dispose()


def launch(state: str, status: str, expires_at: datetime, **extra: Any) -> LaunchRecord:
    return LaunchRecord(
        state=state,
        binding="b",
        profile_name="p",
        iss="https://ehr.test/fhir",
        launch_type="ehr",
        redirect_uri="https://app.test/callback",
        status=status,
        expires_at=expires_at,
        created_at=expires_at - timedelta(hours=12),
        **extra,
    )


def draft(draft_id: str, status: str, updated_at: datetime) -> DraftRow:
    return DraftRow(
        id=draft_id,
        issuer="https://ehr.test/fhir",
        patient_id=f"pat-{draft_id}",
        encounter_id="",
        clinician="",
        status=status,
        updated_at=updated_at,
        created_at=updated_at,
    )


def outbox(
    entry_id: str, status: str, updated_at: datetime, draft_id: str = "d", key: str = ""
) -> OutboxEntry:
    return OutboxEntry(
        id=entry_id,
        write_key=key or f"key-{entry_id}",
        issuer="https://ehr.test/fhir",
        patient_id="pat",
        draft_id=draft_id,
        status=status,
        plan_json="{}",
        created_at=updated_at,
        updated_at=updated_at,
    )


def job(key: str, status: str, updated_at: datetime) -> list[Any]:
    return [
        WriteJob(write_key=key, status=status, lease_until=updated_at, updated_at=updated_at),
        LedgerStep(
            identifier=f"id-{key}",
            write_key=key,
            resource_type="ChargeItem",
            state="done",
            updated_at=updated_at,
        ),
    ]


def audit(row_id: int, at: datetime) -> AuditRow:
    return AuditRow(
        id=row_id,
        at=at,
        action="signed",
        write_key="k",
        issuer="https://ehr.test/fhir",
        patient_id="pat",
        what_json="{}",
        outcome="ok",
    )


def card(uuid: str, issued_at: datetime) -> CdsCardIssued:
    return CdsCardIssued(uuid=uuid, service_id="s", kind="k", indicator="info", issued_at=issued_at)


def feedback(card_uuid: str, received_at: datetime) -> CdsFeedback:
    return CdsFeedback(
        service_id="s",
        card_uuid=card_uuid,
        known_card=card_uuid,
        outcome="accepted",
        outcome_timestamp=received_at,
        received_at=received_at,
    )


def seed(db: Database) -> None:
    with db.session() as s:
        s.add_all(
            [
                # launches: never completed (state expired a second ago / not yet), failed, active and ended
                launch("pending-expired", "pending", NOW - SECOND),
                launch("pending-live", "pending", NOW + timedelta(minutes=9)),
                launch("failed-expired", "failed", NOW - SECOND, error="refused"),
                launch(
                    "active",
                    "active",
                    NOW + timedelta(hours=1),
                    handle="h-active",
                    access_token="sealed-a",
                    refresh_token="sealed-r",
                ),
                launch(
                    "ended-recently",
                    "active",
                    NOW - SECOND,
                    handle="h-ended",
                    access_token="sealed-a2",
                    refresh_token="sealed-r2",
                ),
                launch("ended-long-ago", "active", OLD, handle="h-old", access_token="sealed-a3"),
                launch("ended-at-cutoff", "active", RETENTION.cutoff, handle="h-cutoff"),
                LaunchContextRow(handle="h-active", resources_json="[]", read_at=NOW),
                LaunchContextRow(handle="h-ended", resources_json="[]", read_at=NOW - timedelta(hours=1)),
                LaunchContextRow(handle="h-gone", resources_json="[]", read_at=NOW - timedelta(days=2)),
                # drafts
                draft("signed-old", "signed", OLD),
                draft("signed-young", "signed", YOUNG),
                draft("open-old", "open", OLD),
                draft("open-young", "open", YOUNG),
                draft("signing-old", "signing", OLD),
                draft("queued-unsent", "queued", OLD),
                draft("queued-sent", "queued", OLD),
                # outbox: never an unsent entry, however old
                outbox("o-sent-old", "done", OLD, draft_id="queued-sent"),
                outbox("o-sent-young", "done", YOUNG),
                outbox("o-unsent-old", "pending", OLD, draft_id="queued-unsent", key="job-unsent"),
                # write jobs
                *job("job-done-old", "written", OLD),
                *job("job-done-young", "written", YOUNG),
                *job("job-running-old", "running", OLD),
                *job("job-unsent", "queued", OLD),
                # audit and CDS: seven years
                audit(1, AUDIT_OLD),
                audit(2, AUDIT_YOUNG),
                card("c-old", AUDIT_OLD),
                card("c-old-with-young-feedback", AUDIT_OLD),
                card("c-young", AUDIT_YOUNG),
                feedback("c-old", AUDIT_OLD),
                feedback("c-old-with-young-feedback", AUDIT_YOUNG),
                CdsJwtSeen(iss="i", jti="expired", expires_at=int(NOW.timestamp()) - 3601),
                CdsJwtSeen(iss="i", jti="recent", expires_at=int(NOW.timestamp()) - 60),
            ]
        )


def left(db: Database) -> dict[str, Any]:
    with db.session() as s:
        return {
            "launches": sorted(s.scalars(select(LaunchRecord.state))),
            "tokens": sorted(
                (r.state, r.access_token, r.refresh_token)
                for r in s.scalars(select(LaunchRecord))
                if r.access_token or r.refresh_token
            ),
            "contexts": sorted(s.scalars(select(LaunchContextRow.handle))),
            "drafts": sorted(s.scalars(select(DraftRow.id))),
            "outbox": sorted(s.scalars(select(OutboxEntry.id))),
            "jobs": sorted(s.scalars(select(WriteJob.write_key))),
            "ledger": sorted(s.scalars(select(LedgerStep.write_key))),
            "audit": sorted(s.scalars(select(AuditRow.id))),
            "cards": sorted(s.scalars(select(CdsCardIssued.uuid))),
            "feedback": sorted(s.scalars(select(CdsFeedback.card_uuid))),
            "jwt": sorted(s.scalars(select(CdsJwtSeen.jti))),
        }


def test_each_kind_goes_exactly_when_its_retention_says(db: Database) -> None:
    seed(db)
    counts = purge(db, RETENTION)
    assert left(db) == {
        "launches": ["active", "ended-at-cutoff", "ended-recently", "pending-live"],
        "tokens": [("active", "sealed-a", "sealed-r")],  # an ended launch's tokens are erased at once
        "contexts": ["h-active"],  # patient data of an ended (or unknown) launch is not kept
        "drafts": ["open-young", "queued-unsent", "signed-young", "signing-old"],
        "outbox": ["o-sent-young", "o-unsent-old"],
        "jobs": ["job-done-young", "job-running-old", "job-unsent"],
        "ledger": ["job-done-young", "job-running-old", "job-unsent"],
        "audit": [2],
        "cards": ["c-old-with-young-feedback", "c-young"],
        "feedback": ["c-old-with-young-feedback"],
        "jwt": ["recent"],
    }
    assert counts == {
        "launches never completed": 2,
        "tokens of ended launches": 2,
        "cached FHIR contexts of ended launches": 2,
        "ended launches": 1,
        "signed drafts": 2,
        "unsigned drafts untouched": 1,
        "sent outbox entries": 1,
        "write ledger steps": 1,
        "finished write jobs": 1,
        "audit log entries": 1,
        "CDS feedback entries": 1,
        "CDS cards issued": 1,
        "used CDS JWT ids": 1,
    }
    assert set(purge(db, RETENTION).values()) == {0}  # a second run finds nothing


def test_a_dry_run_deletes_nothing_and_counts_what_the_run_deletes(db: Database) -> None:
    seed(db)
    before = left(db)
    counted = purge(db, RETENTION, dry_run=True)
    assert left(db) == before
    assert counted == purge(db, RETENTION)


def test_a_longer_retention_keeps_more(db: Database) -> None:
    seed(db)
    purge(db, Retention(NOW, retention_days=60, audit_retention_days=3000))
    kept = left(db)
    assert "ended-long-ago" in kept["launches"] and "signed-old" in kept["drafts"] and 1 in kept["audit"]
    assert "pending-expired" not in kept["launches"]  # a launch never completed goes after minutes regardless


def test_the_command_prints_every_kind_and_reads_the_retention_settings(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db)
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", db.url)
    monkeypatch.setenv("SMART_EDU_RETENTION_DAYS", "100000")  # nothing is that old: only what expires anyway
    monkeypatch.setenv("SMART_EDU_AUDIT_RETENTION_DAYS", "100000")
    assert main(["purge", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    lines = dict(reversed(line.split("\t")) for line in out.splitlines())
    assert len(lines) == 13 and "dry run: nothing was deleted (retention 100000 days" in err
    assert int(lines["signed drafts"]) == 0 and int(lines["audit log entries"]) == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LaunchRecord)) == 7
    assert main(["purge"]) == 0
    out, _ = capsys.readouterr()
    done = dict(reversed(line.split("\t")) for line in out.splitlines())
    assert done == lines  # what the dry run said is what the run did
    assert int(done["launches never completed"]) >= 2  # the real clock is later than NOW


def test_purge_never_creates_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", f"sqlite:///{tmp_path / 'none.sqlite3'}")
    assert main(["purge"]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "none.sqlite3").exists()
