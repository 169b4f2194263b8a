"""The store's guarantees on PostgreSQL (DESIGN.md: the same SQLAlchemy URL works there): the migrations match
the models, and the unique claims that stop a double write (write job, draft signing, one open draft per
visit) hold under concurrent requests, not only on SQLite.

A throwaway cluster is started on a free loopback port (``tests/e2e/postgres_kit.py``). Skipped, with the
reason, where PostgreSQL's binaries or the ``psycopg`` driver are missing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from smart_app.fhir_client import FhirClient
from smart_app.point_of_care import drafts
from smart_app.store import Database, schema
from smart_app.writeback import WritebackConfig, WriteResult, ledger, write_signed_service
from tests.e2e import postgres_kit
from tests.http.test_writeback_fake import BASE, FakeFhir, hapi_caps
from tests.unit.test_write_factories import signed

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = postgres_kit.missing()
    if reason:
        pytest.skip(reason)
    with postgres_kit.cluster() as url:
        yield url


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.create_all()
    yield database
    with database.engine.begin() as conn:  # each test starts from empty tables (the schema stays)
        for table in (
            "writeback_job",
            "writeback_ledger",
            "writeback_outbox",
            "writeback_audit",
            "poc_drafts",
        ):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    database.dispose()


def at_once(n: int, task: Callable[[], Any]) -> list[Any]:
    """Run ``task`` in ``n`` threads released together; their results (or exceptions)."""
    barrier = threading.Barrier(n)
    out: list[Any] = []

    def one() -> None:
        barrier.wait()
        try:
            out.append(task())
        except Exception as exc:  # asserted by the caller
            out.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_the_migrations_make_the_models_schema_on_postgresql(db: Database) -> None:
    assert schema.current(db.engine) == schema.head()
    assert schema.differences(db.engine) == []


def test_one_of_many_simultaneous_claims_of_a_write_wins_also_when_taking_over(db: Database) -> None:
    kinds = [c.kind for c in at_once(6, lambda: ledger.claim_job(db, "job-pg"))]
    assert sorted(kinds) == ["busy"] * 5 + ["claimed"]
    ledger.finish_job(db, "job-pg", "queued", "{}")  # an outbox entry: the next claims race to take it over
    kinds = [c.kind for c in at_once(6, lambda: ledger.claim_job(db, "job-pg"))]
    assert sorted(kinds) == ["busy"] * 5 + ["claimed"]


def test_a_draft_is_claimed_for_signing_once_and_a_visit_has_one_open_draft(db: Database) -> None:
    key = drafts.DraftKey("https://ehr.test/fhir", "p1", "e1", "Practitioner/1")
    saved = at_once(4, lambda: drafts.save(db, key, {"code": "98960"}, handle="h"))
    assert len({d.id for d in saved}) == 1  # the partial unique index on open drafts, on PostgreSQL too
    assert sorted(at_once(4, lambda: drafts.claim_for_signing(db, saved[0].id))) == [False] * 3 + [True]


def test_a_double_submit_on_postgresql_writes_one_charge_and_one_note(db: Database) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeFhir(hapi_caps(), transactions=False, conditional=False, create_delay=0.05).install(mock)
        config = WritebackConfig(transaction=False)
        results = at_once(3, lambda: write_signed_service(db, FhirClient(BASE), config, signed()))
    assert all(isinstance(r, WriteResult) for r in results), results
    assert sorted(r.status for r in results) == ["already-written", "already-written", "written"]
    assert len(fake.of_type("ChargeItem")) == 1 and len(fake.of_type("DocumentReference")) == 1
