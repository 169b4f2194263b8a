"""``smart-edu audit`` reads the app's store and shows what a real signing (through the write-back service)
and real CDS feedback (through the feedback route) recorded: filters narrow it, CSV parses, bad input exits 2,
and neither the note text nor a token ever appears."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from sqlalchemy import update

from billing_rules.model import Estimate, Finding
from smart_app import create_app
from smart_app.cli import main
from smart_app.fhir_client import FhirClient
from smart_app.launches import db_of
from smart_app.store import Database
from smart_app.store.writeback import AuditRow
from smart_app.writeback import Acknowledgement, WritebackConfig, write_signed_service
from smart_app.writeback.local_store import open_database
from tests.http.test_cds_hooks import DM, call, hook_request, make_app, only_card, seeded_prefetch
from tests.http.test_writeback_fake import BASE, FakeFhir, hapi_caps
from tests.unit.test_write_factories import evaluation, line, signed

NOTE = "SECRET-NOTE-BODY about the patient's feet"
TOKEN = "tok-SECRET-123"  # a fake token the log must never show
REASON = "Teach-back took the full 8 minutes"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", url)
    db = open_database(url)
    yield db
    db.dispose()


def sign(db: Database, **changes: Any) -> str:
    """A warned 98960 signed over with a reason, written to a stubbed HAPI through the write-back service."""
    warn = Finding("time.near-threshold", "warn", "close to the minimum", "document minutes", "minutes", "t")
    request = signed(
        evaluation=replace(evaluation(line()), findings=(warn,), estimate=Estimate("commercial", 35.0, 65.5)),
        acknowledgements=(Acknowledgement("time.near-threshold", REASON),),
        note_text=NOTE,
        **changes,
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFhir(hapi_caps()).install(rsps)
        client = FhirClient(BASE, token_provider=lambda: TOKEN, sleep=lambda _s: None)
        result = write_signed_service(
            db, client, WritebackConfig(transaction=True, conditional_create=True), request
        )
    assert result.status == "written"
    return result.write_key


def feedback(db: Database, tmp_path: Path, reason: dict[str, str] | None = None) -> str:
    """A patient-view card issued and overridden with a reason (by default the card's first), through the CDS
    routes, into this store."""
    app = make_app(tmp_path)
    app.extensions["smart_edu_db"] = db
    client = app.test_client()
    card = only_card(call(client, "patient-view", hook_request("patient-view", *DM, seeded_prefetch(*DM))))
    reason = reason or card["overrideReasons"][0]
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reason, "userComment": "PRIVATE-COMMENT"},
                "outcomeTimestamp": "2026-11-27T01:00:00Z",
            }
        ]
    }
    assert client.post("/cds-services/patient-view/feedback", json=body).status_code == 200
    return str(reason["code"])


def audit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def json_rows(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_a_signing_and_cds_feedback_appear_in_every_format(
    store: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = sign(store)
    code_ = feedback(store, tmp_path)

    code, out, err = audit(capsys, "--format", "json")
    store_line = f"smart-edu audit: store sqlite:///{tmp_path / 'app.db'} (SMART_EDU_DATABASE_URL)"
    assert code == 0 and err.splitlines()[0] == store_line
    rows = json_rows(out)
    mine = [r for r in rows if r["write_key"] == key]
    assert [r["action"] for r in mine] == ["signed", "write-attempt", "write-result"]
    assert mine[0]["acknowledged"] == [{"rule": "time.near-threshold", "reason": REASON}]
    assert mine[0]["who"] == "Practitioner/practitioner-1" and mine[0]["at"].endswith("Z")
    charge = {"code": "98960", "units": 1, "modifiers": [], "diagnoses": ["E11.9"]}
    assert mine[2]["outcome"] == "written" and mine[2]["what"]["charges"] == [charge]
    estimate = mine[2]["what"]["estimate"]
    assert estimate == {"currency": "USD", "low": 35.0, "high": 65.5, "payer_class": "commercial"}
    amount = "USD 35-65.50"
    line = f"98960 x1 dx E11.9 {amount}"  # what a biller reads: code, units, modifiers, diagnoses, amount
    cds = [r for r in rows if r["action"] == "cds-feedback"]
    assert len(cds) == 1 and cds[0]["patient_id"] == DM[0] and cds[0]["outcome"] == "overridden"
    assert cds[0]["message"].startswith(code_)

    _, text, _ = audit(capsys)
    lines = text.splitlines()
    assert len(lines) == len(rows)
    signed_line = next(x for x in lines if " signed " in x)
    assert line in signed_line and f"acknowledged time.near-threshold: {REASON}" in signed_line
    assert "patient example encounter example-1" in signed_line
    result_line = next(x for x in lines if " write-result " in x)
    assert "ChargeItem/" in result_line and "DocumentReference/" in result_line
    assert "-> written" in result_line
    assert any(" cds-feedback " in x and "-> overridden" in x and code_ in x for x in lines)

    _, table, _ = audit(capsys, "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(table)))
    assert [r["action"] for r in parsed] == [r["action"] for r in rows]
    assert parsed[0]["acknowledged"] == f"time.near-threshold: {REASON}" and parsed[0]["codes"] == line
    assert parsed[-1]["action"] == "cds-feedback" and parsed[-1]["codes"] == "98960"

    for shown in (out, text, table):
        assert NOTE not in shown and "SECRET-NOTE-BODY" not in shown
        assert TOKEN not in shown and "PRIVATE-COMMENT" not in shown


def test_filters_narrow_the_rows(store: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = sign(store)
    second = sign(store, patient_id="other", encounter_id="enc-2", draft_id="draft-2")
    feedback(store, tmp_path)
    with store.session() as s:  # the first signing happened in the past
        past = datetime(2020, 1, 15, 10, tzinfo=UTC)
        s.execute(update(AuditRow).where(AuditRow.write_key == first).values(at=past))

    def keys(*argv: str) -> set[str]:
        code, out, _ = audit(capsys, "--format", "json", *argv)
        assert code == 0
        return {r["write_key"] for r in json_rows(out)}

    assert keys("--patient", "other") == {second}
    assert keys("--encounter", "example-1") == {first}
    assert keys("--until", "2020-01-15") == keys("--since", "2020-01-15", "--until", "2020-01-15") == {first}
    assert keys("--until", "2020-01-14") == set() and keys("--since", "2020-01-16") - {second} != set()
    assert first not in keys("--since", "2020-01-16") and second in keys("--since", "2020-01-16")
    _, out, _ = audit(capsys, "--format", "json", "--action", "signed")
    assert {(r["action"], r["write_key"]) for r in json_rows(out)} == {("signed", first), ("signed", second)}
    _, out, _ = audit(capsys, "--format", "json", "--action", "cds-feedback")
    assert [r["action"] for r in json_rows(out)] == ["cds-feedback"]
    code, out, err = audit(capsys, "--patient", "nobody")
    assert code == 0 and out == "" and "no audit rows match" in err


def test_feedback_prints_the_per_service_summary(
    store: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = feedback(store, tmp_path)
    code, out, _ = audit(capsys, "--feedback", "--format", "json")
    assert code == 0
    assert json_rows(out) == [
        {
            "service": "patient-view",
            "issued": 1,
            "accepted": 0,
            "overridden": 1,
            "ignored": 0,
            "overridden_by_reason": {reason: 1},
        }
    ]
    _, text, _ = audit(capsys, "--feedback")
    assert text == f"patient-view: issued 1, accepted 0, overridden 1 ({reason} 1), ignored 0\n"
    _, table, _ = audit(capsys, "--feedback", "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(table))
    assert row["overridden_by_reason"] == f"{reason}=1"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--since", "2026-13-01"], "--since '2026-13-01': not a date"),
        (["--until", "27/11/2026"], "--until '27/11/2026': not a date"),
        (["--since", "2026-11-27", "--until", "2026-11-01"], "is after --until"),
        (["--action", "singed"], "--action 'singed': unknown action"),
        (["--feedback", "--patient", "p1"], "it takes no --patient"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    store: Database, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, out, err = audit(capsys, *argv)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 2  # the store's name, then the one line
    assert lines[0].startswith("smart-edu audit: store ") and says in lines[1]


def test_a_typed_line_break_or_formula_stays_inert_in_text_and_csv(
    store: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The override reason comes from the CDS client: one line in text, never a formula in a spreadsheet."""
    feedback(store, tmp_path, {"code": "=HYPERLINK(1)\nsecond", "display": "x"})
    _, text, _ = audit(capsys)
    assert text.count("\n") == 1 and "(=HYPERLINK(1) second x)" in text
    _, table, _ = audit(capsys, "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(table))
    assert row["message"] == "'=HYPERLINK(1) second x"
    _, summary, _ = audit(capsys, "--feedback", "--format", "csv")
    (counts,) = csv.DictReader(io.StringIO(summary))
    assert counts["overridden_by_reason"] == "'=HYPERLINK(1) second=1"
    _, out, _ = audit(capsys, "--format", "json")
    assert json_rows(out)[0]["message"] == "=HYPERLINK(1)\nsecond x"  # integrators get what was stored


def test_by_default_it_reads_the_apps_instance_store_like_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda _self: str(folder))
    monkeypatch.delenv("SMART_EDU_DATABASE_URL", raising=False)
    app_db = db_of(create_app())
    key = sign(app_db)
    app_db.dispose()
    code, out, err = audit(capsys, "--format", "json", "--action", "write-result")
    store_line = f"smart-edu audit: store sqlite:///{folder / 'smart_edu.sqlite'} (the app's instance folder)"
    assert code == 0 and err.splitlines()[0] == store_line
    assert [(r["write_key"], r["outcome"]) for r in json_rows(out)] == [(key, "written")]
