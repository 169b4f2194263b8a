"""A write that times out (issue 5: "5xx, timeout, 401 …") waits in the outbox with what happened, keeps its
draft pending, and a retry writes it once, whether or not the server had committed before the timeout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from smart_app.fhir_client import FhirClient
from smart_app.store import Database
from smart_app.writeback import (
    WritebackConfig,
    list_outbox,
    pending_for_draft,
    retry_outbox_entry,
    write_signed_service,
)
from tests.http.test_writeback_fake import BASE, FakeFhir, hapi_caps
from tests.http.test_writeback_strategies import new_db
from tests.unit.test_write_factories import signed


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = new_db(tmp_path / "writeback.db")
    yield database
    database.dispose()


def timing_out(fake: FakeFhir, path: str, *, after_commit: bool) -> FakeFhir:
    """The first POST to ``path`` times out, before the server handles it or after it committed."""
    handle = fake._handle
    pending = [True]

    def wrapped(request: requests.PreparedRequest) -> Any:
        hit = request.method == "POST" and str(request.url).rstrip("/") == f"{BASE}/{path}".rstrip("/")
        if hit and pending:
            pending.clear()
            if after_commit:
                handle(request)
            raise requests.ReadTimeout("read timed out")
        return handle(request)

    fake._handle = wrapped  # type: ignore[method-assign]
    return fake


def one_charge_one_note(fake: FakeFhir) -> None:
    assert len(fake.of_type("ChargeItem")) == 1 and len(fake.of_type("DocumentReference")) == 1


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "after-commit"])
def test_a_timed_out_sequential_charge_waits_in_the_outbox_and_a_retry_writes_it_once(
    db: Database, rsps: responses.RequestsMock, after_commit: bool
) -> None:
    fake = timing_out(FakeFhir(hapi_caps()), "ChargeItem", after_commit=after_commit).install(rsps)
    client = FhirClient(BASE, sleep=lambda _s: None)
    first = write_signed_service(db, client, WritebackConfig(transaction=False), signed())
    assert first.status == "queued-in-outbox" and first.http_status is None
    assert "ReadTimeout" in (first.server_message or "")
    [entry] = list_outbox(db)
    assert entry.id == first.outbox_id and pending_for_draft(db, "draft-1")
    assert retry_outbox_entry(db, client, entry.id).status == "written"
    assert list_outbox(db) == [] and not pending_for_draft(db, "draft-1")
    one_charge_one_note(fake)


def test_a_transaction_that_times_out_after_committing_is_found_not_sent_again(
    db: Database, rsps: responses.RequestsMock
) -> None:
    fake = timing_out(FakeFhir(hapi_caps()), "", after_commit=True).install(rsps)
    result = write_signed_service(
        db,
        FhirClient(BASE, sleep=lambda _s: None),
        WritebackConfig(transaction=True, conditional_create=True),
        signed(),
    )
    assert result.status == "written" and list_outbox(db) == []
    one_charge_one_note(fake)
