"""The SMART launch end to end over HTTP, every external call stubbed with `responses`."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import responses
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import update

from smart_app.launches import db_of
from smart_app.store import LaunchRecord, TokenSealer
from tests.http.smart_kit import (
    AUTHORIZE,
    ISS,
    JWKS,
    TOKEN,
    id_token,
    launch_to_handle,
    make_app,
    mock_discovery,
    start,
    token_form,
    token_response,
)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def token_calls(rsps: responses.RequestsMock) -> int:
    return sum(1 for c in rsps.calls if c.request.url == TOKEN)


def test_unknown_issuer_is_refused_without_any_outbound_request(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    resp = app.test_client().get("/launch", query_string={"iss": "https://evil.test/fhir", "launch": "x"})
    assert resp.status_code == 400
    assert b"not registered" in resp.data
    assert len(rsps.calls) == 0
    assert "Set-Cookie" not in resp.headers


def test_ehr_launch_sends_a_complete_smart_authorize_request(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    client = app.test_client()
    state, q = start(client, launch="launch-abc")
    assert q["response_type"] == ["code"]
    assert q["client_id"] == ["app-1"]
    assert q["redirect_uri"] == ["https://app.test/callback"]
    assert q["aud"] == [ISS]
    assert q["launch"] == ["launch-abc"]
    assert q["scope"][0].split() == ["openid", "fhirUser", "patient/Patient.r", "patient/Encounter.r",
                                     "patient/Condition.rs", "launch"]  # fmt: skip
    assert q["code_challenge_method"] == ["S256"]
    assert len(base64.urlsafe_b64decode(state + "==")) >= 16  # at least 128 random bits
    with db_of(app).session() as s:
        record = s.query(LaunchRecord).one()
        verifier = record.code_verifier
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert q["code_challenge"] == [digest]


def test_binding_cookie_is_secure_httponly_samesite_none_partitioned(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    resp = app.test_client().get("/launch", query_string={"iss": ISS, "launch": "l"})
    cookie = resp.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
        assert attribute in cookie


def test_standalone_launch_asks_for_launch_patient(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps)
    _, q = start(app.test_client(), launch=None)
    assert "launch" not in q
    scopes = q["scope"][0].split()
    assert "launch/patient" in scopes and "launch" not in scopes


def test_public_client_completes_the_launch_with_pkce_and_keeps_the_context(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    form = token_form(rsps)
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["code-1"]
    assert form["client_id"] == ["app-1"]
    assert form["redirect_uri"] == ["https://app.test/callback"]
    assert len(form["code_verifier"][0]) >= 43
    token_request = next(c.request for c in rsps.calls if c.request.url == TOKEN)
    assert "Authorization" not in token_request.headers
    sealer = TokenSealer("test-secret")
    with db_of(app).session() as s:
        record = s.query(LaunchRecord).one()
        assert record.handle == handle and record.status == "active"
        assert record.code_verifier is None
        assert (
            record.access_token != "at-1" and sealer.unseal(record.access_token) == "at-1"
        )  # sealed at rest
        assert sealer.unseal(record.refresh_token) == "rt-1"
        assert record.context == {
            "patient": "pat-1", "encounter": "enc-1", "fhir_user": "Practitioner/p1",
            "need_patient_banner": True, "smart_style_url": "https://ehr.test/style.json",
            "intent": None, "tenant": "t-1",
        }  # fmt: skip


def test_symmetric_client_uses_urlencoded_basic_auth(
    tmp_path: Path, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EHR_SECRET", "s3cr/t+x")
    app = make_app(tmp_path, client_auth="client_secret_basic", client_secret_env="TEST_EHR_SECRET")
    launch_to_handle(app.test_client(), rsps)
    request = next(c.request for c in rsps.calls if c.request.url == TOKEN)
    expected = base64.b64encode(b"app-1:s3cr%2Ft%2Bx").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert "client_secret" not in token_form(rsps)


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_asymmetric_client_signs_a_short_lived_assertion_and_publishes_its_key(
    tmp_path: Path, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, alg: str
) -> None:
    key = RSAKey.generate_key(2048) if alg == "RS384" else ECKey.generate_key("P-384")
    monkeypatch.setenv("TEST_EHR_KEY", key.as_pem(private=True).decode())
    app = make_app(
        tmp_path, client_auth="private_key_jwt", private_key_env="TEST_EHR_KEY", key_id="k1", alg=alg
    )
    client = app.test_client()
    launch_to_handle(client, rsps)
    form = token_form(rsps)
    assert form["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    published = client.get("/.well-known/jwks.json").json["keys"]
    assert [k["kid"] for k in published] == ["k1"] and "d" not in published[0]
    verify_key = RSAKey.import_key(published[0]) if alg == "RS384" else ECKey.import_key(published[0])
    token = jwt.decode(form["client_assertion"][0], verify_key, algorithms=[alg])
    assert token.header["alg"] == alg and token.header["kid"] == "k1"
    assert token.claims["iss"] == token.claims["sub"] == "app-1"
    assert token.claims["aud"] == TOKEN
    assert 0 < token.claims["exp"] - token.claims["iat"] <= 300
    assert token.claims["jti"]


def test_callback_with_unknown_state_is_refused_before_any_token_request(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    client = app.test_client()
    start(client)
    resp = client.get("/callback", query_string={"state": "forged", "code": "c"})
    assert resp.status_code == 400
    assert token_calls(rsps) == 0


def test_callback_with_expired_state_is_refused(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps)
    client = app.test_client()
    state, _ = start(client)
    with db_of(app).session() as s:
        s.execute(update(LaunchRecord).values(expires_at=LaunchRecord.created_at))
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    assert resp.status_code == 400 and b"expired" in resp.data
    assert token_calls(rsps) == 0


def test_replayed_callback_is_refused_and_the_code_is_exchanged_once(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    client = app.test_client()
    launch_to_handle(client, rsps)
    state = db_state(app)
    again = client.get("/callback", query_string={"state": state, "code": "code-1"})
    assert again.status_code == 400
    assert token_calls(rsps) == 1


def test_callback_in_another_browser_is_refused_before_any_token_request(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    state, _ = start(app.test_client())
    no_cookie = app.test_client().get("/callback", query_string={"state": state, "code": "c"})
    assert no_cookie.status_code == 400 and b"blocked this app" in no_cookie.data
    other = app.test_client()
    start(other)  # this browser has its own binding cookie
    mismatch = other.get("/callback", query_string={"state": state, "code": "c"})
    assert mismatch.status_code == 403
    assert token_calls(rsps) == 0


def test_blocked_cookie_in_a_frame_offers_a_new_window_before_the_launch_token_is_spent(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    client = app.test_client()
    first = client.get("/launch", query_string={"iss": ISS, "launch": "one-time"})
    client.delete_cookie("smart_edu_bind")
    resp = client.get(first.headers["Location"])
    assert resp.status_code == 400
    assert b'target="_blank"' in resp.data and b"launch=one-time" in resp.data
    assert not any(c.request.url.startswith(AUTHORIZE) for c in rsps.calls)


def test_access_denied_shows_a_clear_page(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps)
    client = app.test_client()
    state, _ = start(client)
    resp = client.get("/callback", query_string={"state": state, "error": "access_denied",
                                                 "error_description": "<b>User said no</b>"})  # fmt: skip
    assert resp.status_code == 403
    assert b"You declined access" in resp.data
    assert b"&lt;b&gt;User said no&lt;/b&gt;" in resp.data  # autoescaped
    assert token_calls(rsps) == 0
    with db_of(app).session() as s:
        assert s.query(LaunchRecord).one().status == "failed"


def test_token_endpoint_error_is_shown(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps)
    rsps.post(TOKEN, status=400, json={"error": "invalid_grant", "error_description": "code expired"})
    client = app.test_client()
    state, _ = start(client)
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    assert resp.status_code == 502
    assert b"invalid_grant" in resp.data and b"code expired" in resp.data


def test_missing_scopes_are_listed(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps)
    rsps.post(
        TOKEN, json=token_response(scope="launch openid fhirUser patient/Patient.read patient/Encounter.read")
    )
    client = app.test_client()
    state, _ = start(client)
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    assert resp.status_code == 400
    assert b"<code>patient/Condition.rs</code>" in resp.data
    assert b"patient/Patient.r<" not in resp.data  # v1 read covers the v2 scope


def test_launch_without_patient_context_is_refused(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps)
    rsps.post(TOKEN, json=token_response(patient=None))
    client = app.test_client()
    state, _ = start(client)
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    assert resp.status_code == 400 and b"which patient" in resp.data


def test_non_bearer_token_is_refused(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps)
    rsps.post(TOKEN, json=token_response(token_type="mac"))
    client = app.test_client()
    state, _ = start(client)
    assert client.get("/callback", query_string={"state": state, "code": "c"}).status_code == 400


@pytest.mark.parametrize(
    ("token_kwargs", "reason"),
    [
        ({"key": RSAKey.generate_key(2048, parameters={"kid": "ehr-1"})}, b"signature"),
        ({"claims": {"aud": "someone-else"}}, b"aud"),
        ({"claims": {"iss": "https://ehr.test/other-issuer"}}, b"iss"),
        ({"claims": {"exp": 1_000_000_000}}, b"expired"),
    ],
)
def test_launch_with_a_bad_id_token_is_refused(
    app: Flask, rsps: responses.RequestsMock, token_kwargs: dict, reason: bytes
) -> None:
    mock_discovery(rsps)
    rsps.post(TOKEN, json=token_response(id_token=id_token(**token_kwargs)))
    client = app.test_client()
    state, _ = start(client)
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    assert resp.status_code == 403
    assert reason in resp.data.lower()
    with db_of(app).session() as s:
        record = s.query(LaunchRecord).one()
        assert record.status == "failed" and record.handle is None and record.access_token is None


def test_id_token_keys_come_from_openid_configuration_when_not_advertised(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration",
             json={"authorization_endpoint": AUTHORIZE, "token_endpoint": TOKEN})  # fmt: skip
    rsps.get(f"{ISS}/.well-known/openid-configuration", json={"issuer": ISS, "jwks_uri": JWKS})
    rsps.get(JWKS, json={"keys": []})
    rsps.post(TOKEN, json=token_response())
    client = app.test_client()
    state, _ = start(client)
    from tests.http.smart_kit import EHR_KEY

    rsps.replace(responses.GET, JWKS, json={"keys": [EHR_KEY.as_dict(private=False)]})
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    assert resp.status_code == 302


def test_discovery_falls_back_to_the_capability_statement_and_is_cached(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", status=404)
    subs = [{"url": "authorize", "valueUri": AUTHORIZE}, {"url": "token", "valueUri": TOKEN}]
    oauth = {
        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
        "extension": subs,
    }
    security = {"extension": [oauth]}
    rsps.get(
        f"{ISS}/metadata", json={"resourceType": "CapabilityStatement", "rest": [{"security": security}]}
    )
    client = app.test_client()
    start(client)
    start(client)
    metadata_calls = [c for c in rsps.calls if c.request.url == f"{ISS}/metadata"]
    assert len(metadata_calls) == 1
    assert metadata_calls[0].request.headers["Accept"] == "application/fhir+json"


def test_discovery_failure_shows_a_page(app: Flask, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", status=500)
    rsps.get(f"{ISS}/metadata", status=503)
    resp = app.test_client().get("/launch", query_string={"iss": ISS, "launch": "l"})
    assert resp.status_code == 502 and b"sign-in service" in resp.data


def test_tokens_never_reach_the_browser(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    mock_discovery(rsps)
    rsps.post(TOKEN, json=token_response(access_token="SECRET-AT", refresh_token="SECRET-RT"))
    state, _ = start(client)
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    seen = resp.data + str(resp.headers).encode()
    assert b"SECRET" not in seen
    for cookie in client._cookies.values():
        assert "SECRET" not in cookie.value


def db_state(app: Flask) -> str:
    with db_of(app).session() as s:
        return s.query(LaunchRecord).one().state


def test_standalone_launch_completes_with_the_patient_the_user_picked(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    granted = "openid fhirUser launch/patient patient/Patient.r patient/Encounter.r patient/Condition.rs"
    rsps.post(TOKEN, json=token_response(scope=granted, encounter=None))
    client = app.test_client()
    state, _ = start(client, launch=None)
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    assert resp.status_code == 302 and "/s/" in resp.headers["Location"]
    with db_of(app).session() as s:
        record = s.query(LaunchRecord).one()
        assert record.launch_type == "standalone"
        assert record.context["patient"] == "pat-1" and record.context["encounter"] is None


def test_a_profile_whose_secret_is_not_configured_says_so_without_leaking_details(
    tmp_path: Path, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_UNSET_SECRET", raising=False)
    app = make_app(tmp_path, client_auth="client_secret_basic", client_secret_env="TEST_UNSET_SECRET")
    mock_discovery(rsps)
    resp = app.test_client().get("/launch", query_string={"iss": ISS, "launch": "l"})
    assert resp.status_code == 500 and b"not set up for this EHR" in resp.data
    assert b"TEST_UNSET_SECRET" not in resp.data
    assert token_calls(rsps) == 0


def test_endpoints_without_tls_are_refused_for_a_tls_issuer(app: Flask, rsps: responses.RequestsMock) -> None:
    mock_discovery(rsps, token_endpoint="http://ehr.test/auth/token")
    resp = app.test_client().get("/launch", query_string={"iss": ISS, "launch": "l"})
    assert resp.status_code == 502 and b"non-TLS" in resp.data
    assert not any(c.request.url.startswith("http://") for c in rsps.calls)
