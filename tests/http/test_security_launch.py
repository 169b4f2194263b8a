"""Attacks on the SMART launch: issuer look-alikes, discovery pointing elsewhere, PKCE, forged id_tokens,
and crafted callbacks. Every outbound call is stubbed; an unexpected one fails the test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from flask import Flask
from joserfc import jwt

from smart_app.launches import db_of
from smart_app.profiles import load_profiles
from smart_app.resources import launch_config_dir
from smart_app.smart.discovery import Discovery
from smart_app.store import LaunchRecord
from tests.http.smart_kit import (
    AUTHORIZE,
    EHR_KEY,
    ISS,
    JWKS,
    TOKEN,
    fixture,
    id_token,
    launch_of,
    launch_to_handle,
    make_app,
    mock_discovery,
    start,
    token_form,
    token_response,
)

EVIL = "https://evil.test"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISS, "aud": "app-1", "sub": "u1", "iat": now, "exp": now + 300,
            "fhirUser": f"{ISS}/Practitioner/p1"} | changes  # fmt: skip


def unsigned(header: dict[str, Any], body: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"


@pytest.mark.parametrize(
    "iss",
    [
        "https://ehr.test/fhir.evil.test",
        "https://ehr.test.evil.test/fhir",
        "https://ehr.test@evil.test/fhir",
        "https://evil.test/?https://ehr.test/fhir",
        "https://ehr.test:8443/fhir",
        "http://ehr.test/fhir",
        "https://EHR.TEST/FHIR",
        "https://ehr.test/fhir/../evil",
        "https://ehr.test/fhir/Patient",
    ],
)
def test_issuer_lookalikes_are_refused_without_any_request(
    app: Flask, rsps: responses.RequestsMock, iss: str
) -> None:
    resp = app.test_client().get("/launch", query_string={"iss": iss, "launch": "l"})
    assert resp.status_code == 400 and b"not registered" in resp.data
    assert len(rsps.calls) == 0


def test_a_trailing_slash_still_launches_against_the_profiles_own_issuer(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    client = app.test_client()
    first = client.get("/launch", query_string={"iss": ISS + "/", "launch": "l"})
    location = client.get(first.headers["Location"]).headers["Location"]
    assert parse_qs(urlsplit(location).query)["aud"] == [ISS]


@pytest.mark.parametrize("key", ["token_endpoint", "authorization_endpoint", "jwks_uri", "issuer"])
@pytest.mark.parametrize(
    "url", [f"{EVIL}/oauth", "https://ehr.test.evil.test/oauth", "https://ehr.test@evil.test/oauth"]
)
def test_discovery_pointing_at_another_host_is_refused(
    app: Flask, rsps: responses.RequestsMock, key: str, url: str
) -> None:
    mock_discovery(rsps, **{key: url})
    resp = app.test_client().get("/launch", query_string={"iss": ISS, "launch": "l"})
    assert resp.status_code == 502 and b"not a host of profile" in resp.data
    assert not any("evil" in str(c.request.url) for c in rsps.calls)
    with db_of(app).session() as s:
        assert s.query(LaunchRecord).count() == 0  # no authorize URL was ever built


def test_an_authorization_server_on_a_listed_host_completes_the_launch(
    tmp_path: Path, rsps: responses.RequestsMock
) -> None:
    app = make_app(tmp_path, auth_origins=["https://auth.vendor.test"])
    token, authorize = "https://auth.vendor.test/t/token", "https://auth.vendor.test/t/authorize"
    mock_discovery(rsps, token_endpoint=token, authorization_endpoint=authorize)
    rsps.post(token, json=token_response())
    client = app.test_client()
    first = client.get("/launch", query_string={"iss": ISS, "launch": "l"})
    location = client.get(first.headers["Location"]).headers["Location"]
    assert location.startswith(authorize)
    state = parse_qs(urlsplit(location).query)["state"][0]
    assert client.get("/callback", query_string={"state": state, "code": "c"}).status_code == 302


@pytest.mark.parametrize(("pkce", "advertised"), [("if-supported", ["S256"]), ("required", [])])
def test_pkce_is_always_s256_when_used_and_the_verifier_matches(
    tmp_path: Path, rsps: responses.RequestsMock, pkce: str, advertised: list[str]
) -> None:
    app = make_app(tmp_path, pkce=pkce)
    mock_discovery(rsps, code_challenge_methods_supported=advertised)
    rsps.post(TOKEN, json=token_response())
    client = app.test_client()
    state, params = start(client)
    assert params["code_challenge_method"] == ["S256"]
    client.get("/callback", query_string={"state": state, "code": "c"})
    verifier = token_form(rsps)["code_verifier"][0]
    assert params["code_challenge"] == [b64(hashlib.sha256(verifier.encode()).digest())]


def test_a_server_offering_only_plain_pkce_never_gets_a_plain_challenge(
    tmp_path: Path, rsps: responses.RequestsMock
) -> None:
    app = make_app(tmp_path, pkce="if-supported")
    mock_discovery(rsps, code_challenge_methods_supported=["plain"])
    _, params = start(app.test_client())
    assert params.get("code_challenge_method") in (None, ["S256"])


def forged_tokens() -> dict[str, str]:
    pem = EHR_KEY.as_pem(private=False)
    head = {"alg": "HS256", "kid": "ehr-1", "typ": "JWT"}
    signing_input = unsigned(head, claims()).encode()
    hs256 = signing_input.decode() + "." + b64(hmac.new(pem, signing_input, hashlib.sha256).digest())
    jku = id_token() + ""  # a genuine signature, but the header below points elsewhere
    without_iat = {k: v for k, v in claims().items() if k != "iat"}
    head_jku = {"alg": "RS256", "kid": "evil-1", "jku": f"{EVIL}/jwks", "x5u": f"{EVIL}/cert"}
    return {
        "alg-none": unsigned({"alg": "none"}, claims()) + ".",
        "hs256-with-the-public-key": hs256,
        "jku-and-x5u-elsewhere": unsigned(head_jku, claims()) + "." + jku.split(".")[2],
        "iss-on-another-host": id_token({"iss": f"{EVIL}/fhir"}),
        "aud-list-without-us": id_token({"aud": ["other-app"]}),
        "no-exp": id_token({"exp": None}),
        "no-iat": jwt.encode({"alg": "RS256", "kid": "ehr-1"}, without_iat, EHR_KEY),
    }


@pytest.mark.parametrize("name", list(forged_tokens()))
def test_forged_id_tokens_are_refused_and_no_key_is_fetched_elsewhere(
    app: Flask, rsps: responses.RequestsMock, name: str
) -> None:
    mock_discovery(rsps)
    rsps.post(TOKEN, json=token_response(id_token=forged_tokens()[name]))
    client = app.test_client()
    state, _ = start(client)
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    assert resp.status_code == 403, resp.data
    assert not any("evil" in str(c.request.url) for c in rsps.calls)
    assert {urlsplit(str(c.request.url)).netloc for c in rsps.calls} == {"ehr.test"}
    with db_of(app).session() as s:
        record = s.query(LaunchRecord).one()
        assert record.handle is None and record.access_token is None


def test_a_crafted_error_callback_shows_no_attacker_text(app: Flask, rsps: responses.RequestsMock) -> None:
    phishing = "Your session expired. Call 555-0100 and read out your password"
    for state in ("", "not-a-state"):
        query = {"error": "server_error", "error_description": phishing, "state": state}
        resp = app.test_client().get("/callback", query_string=query)
        assert resp.status_code == 400 and b"555-0100" not in resp.data and b"server_error" not in resp.data


def test_an_error_callback_for_another_browsers_launch_shows_no_text_and_changes_nothing(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    state, _ = start(app.test_client())
    query = {"state": state, "error": "access_denied", "error_description": "Call 555-0100"}
    resp = app.test_client().get("/callback", query_string=query)
    assert resp.status_code == 400 and b"555-0100" not in resp.data
    with db_of(app).session() as s:
        assert s.query(LaunchRecord).one().status != "failed"


def test_authorize_url_goes_only_to_the_discovered_endpoint(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps)
    client = app.test_client()
    first = client.get(
        "/launch", query_string={"iss": ISS, "launch": "l", "next": EVIL, "redirect_uri": EVIL}
    )
    assert first.headers["Location"].startswith("/launch/proceed")
    location = client.get(first.headers["Location"]).headers["Location"]
    params = parse_qs(urlsplit(location).query)
    assert location.startswith(AUTHORIZE) and params["redirect_uri"] == ["https://app.test/callback"]
    assert JWKS not in location


def test_a_refresh_token_is_used_once_even_by_two_workers_holding_the_same_launch(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    first, second = launch_of(app, client, handle), launch_of(app, client, handle)  # two workers' views
    rotated = {"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-2"}
    rsps.replace(responses.POST, TOKEN, json=rotated)
    assert first.refresh() and second.refresh()
    refreshes = [parse_qs(str(c.request.body)) for c in rsps.calls if c.request.url == TOKEN]
    used = [f["refresh_token"] for f in refreshes if f.get("grant_type") == ["refresh_token"]]
    assert used == [["rt-1"]]  # the second worker adopted the new tokens instead of replaying rt-1
    assert second._access_token == "at-2"


@pytest.mark.parametrize(
    ("profile", "well_known"),
    [
        ("oracle-health-sandbox", "smart-configuration.oracle-health-sandbox.json"),
        ("epic-sandbox", "smart-configuration.epic-sandbox.partial.json"),
        ("smart-health-it", "smart-configuration.smart-health-it-launcher.json"),
    ],
)
def test_the_shipped_profiles_accept_their_ehrs_real_discovery_documents(
    rsps: responses.RequestsMock, profile: str, well_known: str
) -> None:
    shipped = load_profiles(launch_config_dir()).by_name(profile)
    assert shipped is not None
    rsps.get(f"{shipped.iss}/.well-known/smart-configuration", json=fixture(well_known))
    found = Discovery(requests.Session()).endpoints(shipped)
    assert found.token_endpoint.startswith("https://") and found.authorization_endpoint
