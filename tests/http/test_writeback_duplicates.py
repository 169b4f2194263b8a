"""A duplicate already on the server (two resources carry this service's identifier, e.g. from another tool or
an old bug): a conditional create answers 412 and the lookup finds two. Either way nothing more is written,
no one of them is silently picked, and the outbox says what to do."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from smart_app.store import Database
from smart_app.writeback import WritebackConfig, build_plan, retry_outbox_entry, write_signed_service
from smart_app.writeback.lookup import DUPLICATES
from tests.http.test_writeback_fake import FakeFhir, hapi_caps
from tests.http.test_writeback_strategies import HAPI, HAPI_NO_TX, client, new_db
from tests.unit.test_write_factories import signed


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = new_db(tmp_path / "writeback.db")
    yield database
    database.dispose()


def seed_two_charges(fake: FakeFhir, config: WritebackConfig) -> None:
    plan = build_plan(signed(), config, "sequential")
    charge = next(e for e in plan.entries if e.key == "charge-0").resource
    for n in (1, 2):
        fake.seed({**copy.deepcopy(charge), "id": f"dup-{n}"})


@pytest.mark.parametrize("config", [HAPI, HAPI_NO_TX], ids=["transaction-412", "sequential-lookup"])
def test_two_charges_with_our_identifier_stop_the_write_with_a_clear_message(db, rsps, config) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    seed_two_charges(fake, config)
    result = write_signed_service(db, client(), config, signed())
    assert result.status == "queued-in-outbox" and result.http_status == 412
    assert DUPLICATES in (result.server_message or "")
    assert len(fake.of_type("ChargeItem")) == 2  # no third one
    again = retry_outbox_entry(db, client(), str(result.outbox_id))
    assert again.status == "queued-in-outbox" and len(fake.of_type("ChargeItem")) == 2
    assert (result.server_message or "").count(DUPLICATES) == 1
