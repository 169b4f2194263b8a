"""The launch's reads: one batch round trip, the fallback without batch, paging, errors, throttling."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import responses
from flask import Flask

from smart_app.fhir_client import FhirClient, FhirError
from smart_app.reads import LaunchReads, forget_capabilities, launch_queries, read_launch_context
from tests.http.smart_kit import (
    ISS,
    FakeFhir,
    add_probe_route,
    launch_of,
    launch_to_handle,
    make_app,
    outcome,
    sample_record,
)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = make_app(tmp_path)
    add_probe_route(app)
    return app


@pytest.fixture
def rsps():
    forget_capabilities()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def fhir_calls(rsps: responses.RequestsMock) -> list[responses.Call]:
    return [c for c in rsps.calls if c.request.url.startswith(ISS) and ".well-known" not in c.request.url]


def read_for(app: Flask, rsps: responses.RequestsMock, **token: object) -> LaunchReads:
    client = app.test_client()
    handle = launch_to_handle(client, rsps, **token)
    launch = launch_of(app, client, handle)
    return read_launch_context(
        launch.fhir_client(),
        patient_id=str(launch.context.patient),
        encounter_id=launch.context.encounter,
        fhir_user=launch.context.fhir_user,
    )


def test_a_launch_reads_everything_in_one_batch(app: Flask, rsps: responses.RequestsMock) -> None:
    FakeFhir(sample_record()).install(rsps)
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    before = len(fhir_calls(rsps))
    first = client.get(f"/s/{handle}/probe")
    assert first.json == {"round_trips": 2, "used_batch": True, "handle": handle}
    calls = fhir_calls(rsps)[before:]
    assert [c.request.method for c in calls] == ["GET", "POST"]  # CapabilityStatement once, then the batch
    sent = json.loads(calls[1].request.body)
    assert sent["type"] == "batch"
    assert [e["request"]["url"] for e in sent["entry"]] == launch_queries("pat-1", "enc-1", "Practitioner/p1")
    assert calls[1].request.headers["Authorization"] == "Bearer at-1"
    assert client.get(f"/s/{handle}/probe").json["round_trips"] == 1  # steady state: one round trip


def test_the_reads_map_to_the_clinical_context(app: Flask, rsps: responses.RequestsMock) -> None:
    FakeFhir(sample_record()).install(rsps)
    reads = read_for(app, rsps)
    ctx = reads.context
    assert ctx.patient.id == "pat-1" and ctx.encounter.id == "enc-1"
    by_id = {d.id: d for d in ctx.conditions}
    assert by_id["cond-icd"].icd10 == ("D64.9",)
    assert by_id["cond-snomed"].needs_icd10
    assert ctx.payer.coverage_id == "cov-1"
    assert ctx.provider.reference == "Practitioner/p1"
    assert reads.problems == ()


def test_queries_follow_the_launch_context() -> None:
    assert launch_queries("p", None, None) == [
        "Patient/p",
        "Condition?patient=p&category=problem-list-item&clinical-status=active&_count=100",
        "Coverage?patient=p&status=active&_include=Coverage:payor",
        "ServiceRequest?patient=p&status=active,completed&_count=100",
    ]
    role = launch_queries("p", "e", "PractitionerRole/r9")
    assert "PractitionerRole?_id=r9&_include=PractitionerRole:practitioner" in role
    assert "ChargeItem?context=Encounter/e&_count=100" in role
    elsewhere = launch_queries("p", "e", "https://other.test/fhir/Practitioner/1")
    assert not any(q.startswith("Practitioner") for q in elsewhere)  # never sends the token to another server


def test_server_without_batch_gets_parallel_single_reads(app: Flask, rsps: responses.RequestsMock) -> None:
    FakeFhir(sample_record(), batch=False).install(rsps)
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    before = len(fhir_calls(rsps))
    assert client.get(f"/s/{handle}/probe").json["used_batch"] is False
    calls = fhir_calls(rsps)[before:]
    assert len(calls) == 1 + len(launch_queries("pat-1", "enc-1", "Practitioner/p1"))
    assert all(c.request.method == "GET" for c in calls)


@pytest.mark.parametrize("status", [400, 404, 405, 415, 422, 501])
def test_a_server_that_refuses_the_batch_is_read_one_by_one(
    rsps: responses.RequestsMock, status: int
) -> None:
    """The one read engine's rule, the same for CDS Hooks (test_cds_hooks.py): a batch refused as a whole is
    read again as single GETs (a 400 too: FHIR reports one entry's failure inside a batch-response)."""
    rsps.post(f"{ISS}/", status=status, json=outcome("batch is not supported", "not-supported"))
    fake = FakeFhir(sample_record())
    fake.install(rsps)
    reads = read_launch_context(FhirClient(ISS), patient_id="pat-1", encounter_id="enc-1", fhir_user=None)
    assert not reads.used_batch
    assert {r["resourceType"] for r in reads.resources} >= {"Patient", "Encounter", "Condition", "Coverage"}


def test_search_pages_are_followed(rsps: responses.RequestsMock) -> None:
    conditions = [
        {"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": "Patient/pat-1"},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]}}
        for i in range(5)
    ]  # fmt: skip
    FakeFhir([{"resourceType": "Patient", "id": "pat-1"}, *conditions], page_size=2).install(rsps)
    reads = read_launch_context(FhirClient(ISS), patient_id="pat-1", encounter_id="enc-1", fhir_user=None)
    ids = [r["id"] for r in reads.resources if r["resourceType"] == "Condition"]
    assert sorted(ids) == [f"c{i}" for i in range(5)]  # deduplicated across the two Condition searches
    assert reads.used_batch
    assert reads.round_trips == 2 + 4  # metadata + batch + two more pages for each Condition search
    assert len(reads.context.conditions) == 5


def test_throttled_batch_is_retried_after_retry_after(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    rsps.post(f"{ISS}/", status=429, headers={"Retry-After": "0"}, json=outcome("slow down", "throttled"))
    FakeFhir(sample_record()).install(rsps)
    assert client.get(f"/s/{handle}/probe").json["used_batch"] is True
    assert sum(1 for c in fhir_calls(rsps) if c.request.method == "POST") == 2


def test_an_entry_refused_with_operation_outcome_becomes_a_read_note(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    fake = FakeFhir(sample_record())
    fake.entry_overrides["Coverage?"] = (403, outcome("Insufficient scope for Coverage", "forbidden"))
    fake.install(rsps)
    reads = read_for(app, rsps)
    note = "Coverage could not be read: Insufficient scope for Coverage"
    assert note in reads.problems and note in reads.context.read_notes
    assert reads.context.payer.payer_class == "unknown"


def test_a_failed_batch_raises_the_servers_message(rsps: responses.RequestsMock) -> None:
    caps = {"resourceType": "CapabilityStatement", "rest": [{"interaction": [{"code": "batch"}]}]}
    rsps.get(f"{ISS}/metadata", json=caps)
    rsps.post(f"{ISS}/", status=500, json=outcome("database is down", "exception"))
    with pytest.raises(FhirError, match="database is down"):
        read_launch_context(FhirClient(ISS), patient_id="pat-1", encounter_id=None, fhir_user=None)


def test_first_page_shows_the_context_read_in_one_batch(app: Flask, rsps: responses.RequestsMock) -> None:
    FakeFhir(sample_record()).install(rsps)
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    before = len(fhir_calls(rsps))
    page = client.get(f"/s/{handle}/")
    assert page.status_code == 200
    assert [c.request.method for c in fhir_calls(rsps)[before:]] == [
        "GET",
        "POST",
    ]  # metadata, then one batch
    html = page.get_data(as_text=True)
    assert "Baxter" in html  # the banner: the EHR asked for one
    assert "D64.9" in html
    assert "44054006" in html  # the SNOMED-only problem is shown (flagged), not dropped
    assert page.headers["Cache-Control"] == "no-store"
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    assert "at-1" not in html
