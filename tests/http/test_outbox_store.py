"""``smart-edu outbox`` reads the app's store (resolved as ``create_app`` does), so by default it sees the
app's failed writes and names the store it read; ``sandbox-test`` keeps its own and says how to retry
there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses
from flask import Flask

from smart_app import create_app
from smart_app.cli import main
from smart_app.fhir_client import FhirClient
from smart_app.launches import db_of
from smart_app.writeback import WritebackConfig, write_signed_service
from smart_app.writeback.local_store import app_database_url, shown_url
from tests.http.test_sandbox_test import chart, sandbox_test, service_file
from tests.http.test_writeback_fake import BASE, FakeFhir, hapi_caps
from tests.unit.test_write_factories import signed


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No SMART_EDU_DATABASE_URL: the app's instance folder (a temporary one) and a per-user folder apart."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda _self: str(folder))
    monkeypatch.delenv("SMART_EDU_DATABASE_URL", raising=False)
    monkeypatch.delenv("SMART_EDU_BEARER_TOKEN", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return folder


def test_the_outbox_store_is_the_one_create_app_opens(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app_database_url() == create_app().config["SMART_EDU_DATABASE_URL"]
    assert app_database_url() == f"sqlite:///{instance / 'smart_edu.sqlite'}"
    monkeypatch.setenv("SMART_EDU_DATABASE_URL", "sqlite:///elsewhere.db")
    assert app_database_url() == create_app().config["SMART_EDU_DATABASE_URL"] == "sqlite:///elsewhere.db"


def test_by_default_outbox_lists_and_retries_the_apps_failed_write(
    instance: Path, rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeFhir(hapi_caps(), missing={"Encounter/example-1"}).install(rsps)
    app_db = db_of(create_app())
    failed = write_signed_service(
        app_db,
        FhirClient(BASE, sleep=lambda _s: None),
        WritebackConfig(transaction=True, conditional_create=True),
        signed(),
    )
    app_db.dispose()
    assert failed.status == "queued-in-outbox"

    assert main(["outbox", "list"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == [failed.outbox_id]
    store_line = (
        f"smart-edu outbox: store sqlite:///{instance / 'smart_edu.sqlite'} (the app's instance folder)"
    )
    assert err.splitlines()[0] == store_line

    fake.missing.clear()
    assert main(["outbox", "retry"]) == 0
    assert f"{failed.outbox_id}: written" in capsys.readouterr().out
    assert len(fake.of_type("ChargeItem")) == 1


def test_a_password_in_the_store_url_is_not_shown() -> None:
    assert (
        shown_url("postgresql+psycopg://billing:s3cret@db/edu") == "postgresql+psycopg://billing:***@db/edu"
    )


def test_sandbox_test_keeps_its_own_store_and_names_the_retry_for_it(
    instance: Path, tmp_path: Path, rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    from smart_app.reads import forget_capabilities

    forget_capabilities()
    fake = FakeFhir(hapi_caps(), missing={"Encounter/example-1"}).seed(*chart()).install(rsps)
    code, _, err = sandbox_test(capsys, "--service", service_file(tmp_path), "--write")
    forget_capabilities()
    own = f"sqlite:///{tmp_path / 'xdg' / 'smart-edu-billing' / 'smart-edu.db'}"
    assert code == 3 and f"SMART_EDU_DATABASE_URL={own} smart-edu outbox retry" in err
    assert main(["outbox", "list"]) == 2 and capsys.readouterr().out == ""  # the app's store: none, none made
    assert not (instance / "smart_edu.sqlite").exists()
    fake.missing.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMART_EDU_DATABASE_URL", own)
        assert main(["outbox", "retry"]) == 0
    assert len(fake.of_type("ChargeItem")) == 1
