"""Security by default: headers, framing, CSRF, handle binding, and no tokens in logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask, g

from smart_app import create_app
from smart_app.launches import launch_required
from smart_app.security import csrf_token
from tests.http.smart_kit import FakeFhir, launch_of, launch_to_handle, make_app, sample_record, write_profile


def add_form_route(app: Flask) -> None:
    @app.post("/s/<handle>/save")
    @launch_required
    def save(handle: str) -> dict[str, Any]:
        return {"saved": handle == g.launch.handle}


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = make_app(tmp_path)
    add_form_route(app)
    return app


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def token_for(app: Flask, cookie_value: str, handle: str) -> str:
    cookie = {"Cookie": f"smart_edu_bind={cookie_value}"}
    with app.test_request_context(f"/s/{handle}/save", method="POST", headers=cookie):
        return csrf_token()  # as the page rendering the form computes it


def test_pages_carry_the_security_headers(app: Flask) -> None:
    resp = app.test_client().get("/launch", query_string={"iss": "https://unknown.test"})
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://ehr.test" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in resp.headers


def test_frame_ancestors_can_be_configured(tmp_path: Path) -> None:
    write_profile(tmp_path, "one")
    app = create_app({"SMART_EDU_DATABASE_URL": "sqlite://", "SMART_EDU_LAUNCH_CONFIG": str(tmp_path),
                      "SMART_EDU_FRAME_ANCESTORS": "https://ehr-a.test, https://ehr-b.test"})  # fmt: skip
    csp = app.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert csp.endswith("frame-ancestors 'self' https://ehr-a.test https://ehr-b.test")


def test_public_key_document_may_be_cached(app: Flask) -> None:
    resp = app.test_client().get("/.well-known/jwks.json")
    assert resp.headers["Cache-Control"] == "public, max-age=300"


def test_post_without_csrf_token_is_refused(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    assert client.post(f"/s/{handle}/save", data={"x": "1"}).status_code == 400
    assert client.post(f"/s/{handle}/save", data={"csrf_token": "forged"}).status_code == 400


def test_post_with_the_pages_csrf_token_is_accepted(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    cookie = client.get_cookie("smart_edu_bind").value
    token = token_for(app, cookie, handle)
    assert client.post(f"/s/{handle}/save", data={"csrf_token": token}).json == {"saved": True}
    assert client.post(f"/s/{handle}/save", headers={"X-CSRF-Token": token}).status_code == 200
    other_launch = token_for(app, cookie, "another-handle")
    assert client.post(f"/s/{handle}/save", data={"csrf_token": other_launch}).status_code == 400


def test_a_handle_works_only_in_the_browser_that_launched_it(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    owner = app.test_client()
    handle = launch_to_handle(owner, rsps)
    stranger = app.test_client()
    launch_to_handle(stranger, rsps)  # has a binding cookie of its own
    assert stranger.post(f"/s/{handle}/save").status_code in (400, 403)
    fresh = app.test_client()
    blocked = fresh.get(f"/s/{handle}/")
    assert blocked.status_code == 401 and b"blocked this app" in blocked.data
    assert stranger.get(f"/s/{handle}/").status_code == 403
    assert owner.get("/s/not-a-handle/").status_code == 404


def test_two_launches_in_one_browser_never_mix(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    first = launch_to_handle(client, rsps, patient="pat-1", access_token="at-A")
    second = launch_to_handle(client, rsps, patient="pat-2", access_token="at-B")
    assert first != second
    a, b = launch_of(app, client, first), launch_of(app, client, second)
    assert (a.context.patient, b.context.patient) == ("pat-1", "pat-2")
    assert (a._access_token, b._access_token) == ("at-A", "at-B")


def test_no_token_reaches_the_logs(
    app: Flask, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    FakeFhir(sample_record()).install(rsps)
    client = app.test_client()
    handle = launch_to_handle(client, rsps, access_token="SECRET-ACCESS", refresh_token="SECRET-REFRESH")
    launch = launch_of(app, client, handle)
    launch.fhir_client().read("Patient", "pat-1")
    assert "launch.callback" in caplog.text
    everything = caplog.text + repr([vars(r) for r in caplog.records])  # the structured events' fields too
    assert "active" in everything
    assert "SECRET-" not in everything
    assert "code-1" not in everything
