"""SMART_EDU_HTTP_TIMEOUT reaches every call to the authorization server (discovery, code exchange, JWKS,
refresh) and SMART_EDU_FHIR_TIMEOUT the launch's FHIR calls: a slow EHR cannot hold a worker longer."""

from __future__ import annotations

from pathlib import Path

import responses
from flask import Flask

from smart_app import create_app
from smart_app.reads import forget_capabilities
from tests.http.smart_kit import (
    ISS,
    JWKS,
    TOKEN,
    FakeFhir,
    add_probe_route,
    launch_to_handle,
    sample_record,
    write_profile,
)

AUTH_TIMEOUT = (1.5, 7.0)
FHIR_TIMEOUT = (2.5, 11.0)


def make_app(tmp_path: Path) -> Flask:
    forget_capabilities()
    config_dir = tmp_path / "profiles"
    config_dir.mkdir()
    write_profile(config_dir, "test-ehr", client_auth="none")
    app = create_app(
        {
            "TESTING": True,
            "SMART_EDU_DATABASE_URL": "sqlite://",
            "SMART_EDU_LAUNCH_CONFIG": str(config_dir),
            "SMART_EDU_BASE_URL": "https://app.test",
            "SMART_EDU_SECRET_KEY": "test-secret",
            "SMART_EDU_HTTP_TIMEOUT": "1.5,7",
            "SMART_EDU_FHIR_TIMEOUT": FHIR_TIMEOUT,
        }
    )
    add_probe_route(app)
    return app


def timeouts(rsps: responses.RequestsMock, url: str) -> list[object]:
    return [c.request.req_kwargs["timeout"] for c in rsps.calls if c.request.url.split("?")[0] == url]


def test_the_timeouts_reach_discovery_token_jwks_refresh_and_fhir(
    tmp_path: Path, rsps: responses.RequestsMock
) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    handle = launch_to_handle(client, rsps, expires_in=30)  # inside the refresh margin: the probe refreshes
    rsps.replace(
        responses.POST, TOKEN, json={"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600}
    )
    FakeFhir(sample_record()).install(rsps)
    assert client.get(f"/s/{handle}/probe").status_code == 200

    assert timeouts(rsps, f"{ISS}/.well-known/smart-configuration") == [AUTH_TIMEOUT]
    assert timeouts(rsps, JWKS) == [AUTH_TIMEOUT]
    assert timeouts(rsps, TOKEN) == [AUTH_TIMEOUT, AUTH_TIMEOUT]  # the code exchange, then the refresh
    fhir = [
        c.request.req_kwargs["timeout"]
        for c in rsps.calls
        if c.request.url.startswith(f"{ISS}/") and "/.well-known/" not in c.request.url
    ]
    assert fhir and set(fhir) == {FHIR_TIMEOUT}
