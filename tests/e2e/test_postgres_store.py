"""The store's guarantees on PostgreSQL (DESIGN.md: the same SQLAlchemy URL works there): the migrations match
the models, and the unique claims that stop a double write (write job, draft signing, one open draft per
visit) hold under concurrent requests, not only on SQLite.

A throwaway cluster is started on a free loopback port with ``initdb`` + ``pg_ctl`` (as the ``postgres``
user when run as root). Skipped, with the reason, where PostgreSQL's binaries or the ``psycopg`` driver are
missing: CI installs ``postgresql`` (apt) and ``psycopg[binary]`` (the ``dev`` extra).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from smart_app.fhir_client import FhirClient
from smart_app.point_of_care import drafts
from smart_app.store import Database, schema
from smart_app.writeback import WritebackConfig, WriteResult, ledger, write_signed_service
from tests.http.test_writeback_fake import BASE, FakeFhir, hapi_caps
from tests.unit.test_write_factories import signed

pytestmark = pytest.mark.e2e


def _pg_bin(name: str) -> str | None:
    """On PATH, else where Debian's ``postgresql`` package puts it (``/usr/lib/postgresql/<major>/bin``)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


def _missing() -> str | None:
    if not (_pg_bin("initdb") and _pg_bin("pg_ctl")):
        return "PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)"
    if importlib.util.find_spec("psycopg") is None:
        return "the psycopg driver is not installed (pip install 'psycopg[binary]', in the dev extra)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    return None


def _as_postgres(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="smart-edu-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(argv: list[str]) -> None:
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    initdb, pg_ctl = str(_pg_bin("initdb")), str(_pg_bin("pg_ctl"))
    run(_as_postgres(initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"))
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(_as_postgres(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "stop"), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


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
