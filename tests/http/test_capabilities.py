"""One per-server capability cache for reads, write-back and CDS Hooks: /metadata once per server per TTL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from smart_app import capabilities
from smart_app.cds_hooks.reads import gather
from smart_app.fhir_client import FhirClient
from smart_app.reads import read_launch_context
from smart_app.store import Database
from smart_app.writeback import WritebackConfig, write_signed_service
from smart_app.writeback.config import choose_strategy, server_takes_provenance
from tests.http.test_writeback_fake import BASE, FakeFhir, hapi_caps, oracle_caps
from tests.http.test_writeback_strategies import HAPI, new_db
from tests.unit.test_cds_reads import PV, full_prefetch, request, searchset
from tests.unit.test_write_factories import signed


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = new_db(tmp_path / "writeback.db")
    yield database
    database.dispose()


def client() -> FhirClient:
    return FhirClient(BASE, sleep=lambda _s: None)


def metadata_calls(rsps: responses.RequestsMock) -> int:
    return sum(1 for c in rsps.calls if c.request.url == f"{BASE}/metadata")


def test_facts_of_the_fixture_statements() -> None:
    hapi = capabilities.from_statement(hapi_caps())
    assert hapi.batch and hapi.transaction and hapi.known
    assert hapi.creates("Provenance") and hapi.resource("ChargeItem").conditional_create  # type: ignore[union-attr]
    oracle = capabilities.from_statement(oracle_caps())
    assert not oracle.transaction and not oracle.creates("ChargeItem")
    assert "create" in oracle.resource("ChargeItem").operations  # type: ignore[union-attr]
    client_mode = {"rest": [{"mode": "client", "interaction": [{"code": "transaction"}]}]}
    assert not capabilities.from_statement(client_mode).transaction


def test_new_clients_of_one_server_share_one_metadata_read(rsps: Any) -> None:
    rsps.get(f"{BASE}/metadata", json=oracle_caps())
    first, second = client(), client()
    assert choose_strategy(HAPI, first, note_only=False) == "sequential"
    assert not server_takes_provenance(WritebackConfig(transaction=True, conditional_create=True), second)
    assert WritebackConfig.from_capabilities(client()).chargeitem == "operation"
    assert metadata_calls(rsps) == 1 and second.requests_sent == 0


def test_entries_expire_after_the_ttl(rsps: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rsps.get(f"{BASE}/metadata", json=hapi_caps())
    now = [1000.0]
    monkeypatch.setattr(capabilities._facts, "clock", lambda: now[0])
    assert capabilities.of(client()).transaction
    now[0] += capabilities.TTL - 1
    assert capabilities.of(client()).transaction and metadata_calls(rsps) == 1
    now[0] += 2
    assert capabilities.of(client()).transaction and metadata_calls(rsps) == 2


@pytest.mark.parametrize(("status", "remembered"), [(404, True), (503, False), (401, False)])
def test_only_a_server_without_metadata_is_remembered_as_unknown(
    rsps: Any, status: int, remembered: bool
) -> None:
    rsps.get(f"{BASE}/metadata", status=status, json={"resourceType": "OperationOutcome", "issue": []})
    facts = capabilities.of(FhirClient(BASE, sleep=lambda _s: None, max_retries=0))
    assert not facts.known and not facts.transaction and not facts.creates("Provenance")
    assert (capabilities.known(BASE) is not None) is remembered


def test_a_refused_batch_outlives_a_reread_of_the_statement(rsps: Any) -> None:
    rsps.get(f"{BASE}/metadata", json=hapi_caps())
    assert capabilities.of(client()).batch
    capabilities.batch_refused(BASE)
    assert not capabilities.of(client()).batch
    fetched = client()
    fetched.capabilities()  # a client holding a fresh copy of the statement
    assert not capabilities.of(fetched).batch and capabilities.of(fetched).transaction


def test_the_cache_holds_a_bounded_number_of_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capabilities._facts, "max_entries", 3)
    for n in range(5):
        capabilities._store(f"https://ehr{n}.test/fhir", capabilities.from_statement(hapi_caps()), 60.0)
    assert [capabilities.known(f"https://ehr{n}.test/fhir") is not None for n in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_a_signature_is_one_round_trip_once_the_launch_read_the_capabilities(db: Any, rsps: Any) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    launch = client()
    read_launch_context(launch, patient_id="example", encounter_id="example-1", fhir_user=None)
    signing = client()  # the app builds a new client for the signing request
    result = write_signed_service(db, signing, HAPI, signed())
    assert result.status == "written" and result.strategy == "transaction"
    assert signing.requests_sent == 1 and fake.calls.count(("GET", "metadata")) == 1


def test_a_cold_cache_costs_one_metadata_read_then_never_again(db: Any, rsps: Any) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    cold, warm = client(), client()
    write_signed_service(db, cold, HAPI, signed(draft_id="d-1"))
    write_signed_service(db, warm, HAPI, signed(draft_id="d-2"))
    assert (cold.requests_sent, warm.requests_sent) == (2, 1)
    assert fake.calls.count(("GET", "metadata")) == 1


@responses.activate
def test_cds_hooks_skip_the_batch_a_known_server_does_not_take() -> None:
    fhir = "https://ehr.test/fhir"
    capabilities._store(fhir, capabilities.from_statement(oracle_caps()), 60.0)
    assert not capabilities.known(fhir).batch  # type: ignore[union-attr]
    responses.get(f"{fhir}/Condition?patient=p1", json=searchset({"resourceType": "Condition", "id": "c1"}))
    prefetch = full_prefetch()
    del prefetch["conditions"]
    data = gather(PV, request(prefetch))
    assert not data.used_batch and data.of("conditions")[0]["id"] == "c1"
    assert [c.request.method for c in responses.calls] == ["GET"]  # no batch attempt first


@responses.activate
def test_cds_hooks_remember_a_refused_batch_for_the_app() -> None:
    fhir = "https://ehr.test/fhir"
    capabilities._store(fhir, capabilities.from_statement(hapi_caps()), 60.0)
    responses.post(fhir + "/", status=405, json={"resourceType": "OperationOutcome", "issue": []})
    responses.get(f"{fhir}/Condition?patient=p1", json=searchset())
    prefetch = full_prefetch()
    del prefetch["conditions"]
    gather(PV, request(prefetch))
    assert not capabilities.known(fhir).batch  # type: ignore[union-attr]
    gather(PV, request(prefetch))
    assert [c.request.method for c in responses.calls] == ["POST", "GET", "GET"]
