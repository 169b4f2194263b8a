"""`GET /readyz`: ready (200) when the store answers at the current schema; 503 naming what failed and its fix
otherwise; rule data expiring within 30 days reported either way; never a secret in the body."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from billing_rules import currency
from smart_app import db_of, readiness
from smart_app.store import schema
from tests.http.smart_kit import make_app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    readiness._rules_report.clear()
    return make_app(tmp_path)


def test_ready_when_the_store_answers_at_the_current_schema(app: Flask) -> None:
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.json
    assert body["status"] == "ready"
    assert body["store"] == {
        "backend": "sqlite", "schema": schema.head(), "expected_schema": schema.head(), "ok": True
    }  # fmt: skip
    assert body["rules"]["as_of"] == date.today().isoformat()
    assert isinstance(body["rules"]["expiring_within_30_days"], list)


def test_an_old_schema_is_503_naming_the_command(app: Flask) -> None:
    with db_of(app).engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old0001'"))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    store = resp.json["store"]
    assert resp.json["status"] == "not ready" and store["ok"] is False
    assert store["schema"] == "old0001" and store["fix"] == "smart-edu db upgrade"


def test_a_store_that_does_not_answer_is_503_without_its_url_or_error_text(tmp_path: Path) -> None:
    secret_url = f"sqlite:///{tmp_path / 'pw-S3CRET' / 'gone.sqlite'}"
    app = make_app(tmp_path)
    app.extensions["smart_edu_db"].dispose()
    from smart_app.store import Database

    app.extensions["smart_edu_db"] = Database(secret_url)  # its folder does not exist: cannot be opened
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["store"]["problem"].startswith("the store does not answer (")
    assert "S3CRET" not in resp.get_data(as_text=True) and "gone.sqlite" not in resp.get_data(as_text=True)


def test_rule_data_ending_within_30_days_is_reported_but_does_not_take_the_instance_out(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Today is moved to 10 days before the end of some period with nothing after it, as the rules say."""
    periods = [p for p in currency.data_periods() if not p.gap and p.end.year < 9999]
    ends = sorted({p.end for p in periods})
    day = next((e - timedelta(days=10) for e in ends if currency.expiring(e - timedelta(days=10), 30)), None)
    assert day is not None, "no rule data period ever ends without a successor"

    class Clock:
        def date(self) -> date:
            return day

    monkeypatch.setattr(readiness, "utcnow", lambda: Clock())
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200
    expiring: list[dict[str, Any]] = resp.json["rules"]["expiring_within_30_days"]
    assert expiring and {e["name"] for e in expiring} == {p.name for p in currency.expiring(day, 30)}
    assert all(date.fromisoformat(e["end"]) < day + timedelta(days=30) for e in expiring)


def test_readyz_is_listed_with_the_routes() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "`GET /readyz`" in readme
