"""Token refresh during a launch: before expiry, once after a 401, and the relaunch page when it fails."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses
from flask import Flask

from smart_app.launches import db_of
from smart_app.store import LaunchRecord, TokenSealer
from tests.http.smart_kit import (
    ISS,
    TOKEN,
    FakeFhir,
    add_probe_route,
    launch_to_handle,
    make_app,
    outcome,
    sample_record,
)

CAPS = {"resourceType": "CapabilityStatement", "rest": [{"interaction": [{"code": "batch"}]}]}


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = make_app(tmp_path)
    add_probe_route(app)
    return app


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def batch_auth_headers(rsps: responses.RequestsMock) -> list[str]:
    return [c.request.headers["Authorization"] for c in rsps.calls if c.request.url == f"{ISS}/"]


def refresh_forms(rsps: responses.RequestsMock) -> list[dict[str, list[str]]]:
    forms = [parse_qs(c.request.body) for c in rsps.calls if c.request.url == TOKEN]
    return [f for f in forms if f.get("grant_type") == ["refresh_token"]]


def test_401_is_cured_by_one_refresh(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    rsps.post(f"{ISS}/", status=401, json=outcome("token expired", "login"))
    FakeFhir(sample_record()).install(rsps)
    new_token = {"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-2"}
    rsps.replace(responses.POST, TOKEN, json=new_token)
    assert client.get(f"/s/{handle}/probe").status_code == 200
    assert batch_auth_headers(rsps) == ["Bearer at-1", "Bearer at-2"]
    assert refresh_forms(rsps)[0]["refresh_token"] == ["rt-1"]
    with db_of(app).session() as s:
        record = s.query(LaunchRecord).one()
        sealer = TokenSealer("test-secret")
        assert (sealer.unseal(record.access_token), sealer.unseal(record.refresh_token)) == ("at-2", "rt-2")


def test_token_is_refreshed_before_it_expires(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps, expires_in=30)  # inside the 60 s margin
    FakeFhir(sample_record()).install(rsps)
    rsps.replace(
        responses.POST, TOKEN, json={"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600}
    )
    assert client.get(f"/s/{handle}/probe").status_code == 200
    assert batch_auth_headers(rsps) == ["Bearer at-2"]
    with db_of(app).session() as s:
        kept = s.query(LaunchRecord).one().refresh_token
        assert TokenSealer("test-secret").unseal(kept) == "rt-1"  # kept when the server sends no new one


def test_failed_refresh_shows_the_relaunch_page(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    rsps.get(f"{ISS}/metadata", json=CAPS)
    rsps.post(f"{ISS}/", status=401, json=outcome("token expired", "login"))
    rsps.replace(responses.POST, TOKEN, status=400, json={"error": "invalid_grant"})
    resp = client.get(f"/s/{handle}/probe")
    assert resp.status_code == 401
    assert b"Open the app again from your EHR" in resp.data and b"saved" in resp.data
    assert len(refresh_forms(rsps)) == 1


def test_expired_token_without_refresh_token_asks_for_a_relaunch(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps, expires_in=-5, refresh_token=None)
    rsps.get(f"{ISS}/metadata", json=CAPS)
    resp = client.get(f"/s/{handle}/probe")
    assert resp.status_code == 401
    assert batch_auth_headers(rsps) == []  # an expired token is not even sent


def test_tokens_sealed_under_a_former_secret_key_end_the_launch(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    with db_of(app).session() as s:
        s.query(LaunchRecord).update({"access_token": TokenSealer("old-secret").seal("at-1")})
    resp = client.get(f"/s/{handle}/probe")
    assert resp.status_code == 404 and b"Open the app again from your EHR" in resp.data
