"""SMART Backend Services client (issue 13): client_credentials with a private_key_jwt assertion, system
scopes (v2, v1 fallback), discovery pinned to the profile's origins, the token cached until shortly before
expiry."""

from __future__ import annotations

import time

import pytest
import responses
from joserfc import jwt

from smart_app.smart.backend import BackendTokenSource, v1_spelling
from smart_app.smart.errors import ClientConfigError, DiscoveryError, TokenError
from tests.http.bulk_kit import (
    BASE,
    EC_KEY,
    KEY_ENV,
    RSA_KEY,
    TOKEN_URL,
    FakeTime,
    backend_profile,
    form,
    install_auth,
    smart_config,
    token_body,
)

SCOPES = ("system/Patient.rs", "system/ChargeItem.rs")


def test_token_request_is_client_credentials_with_a_short_signed_assertion(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for alg, key in (("ES384", EC_KEY), ("RS384", RSA_KEY)):
        rsps.reset()
        install_auth(rsps)
        source = BackendTokenSource(backend_profile(monkeypatch, alg=alg, key=key), SCOPES)
        assert source.token() == "tok-1"
        sent = form(rsps.calls[-1].request)
        assert sent["grant_type"] == "client_credentials" and sent["scope"] == " ".join(SCOPES)
        assert sent["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        assert "client_secret" not in sent
        token = jwt.decode(sent["client_assertion"], key, algorithms=[alg])
        claims = token.claims
        assert token.header["alg"] == alg and token.header["kid"] == "bk-1"
        assert claims["iss"] == claims["sub"] == "scrub-client" and claims["aud"] == TOKEN_URL
        assert 0 < claims["exp"] - time.time() <= 300 and claims["jti"]


def test_token_is_cached_until_shortly_before_expiry(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_auth(rsps, token_body("tok-1", 300), token_body("tok-2", 300))
    fake = FakeTime()
    source = BackendTokenSource(backend_profile(monkeypatch), SCOPES, clock=fake.clock)
    assert source.token() == "tok-1"
    fake.now += 200
    assert source.token() == "tok-1" and source.requests_sent == 1
    fake.now += 80  # 20 s left: inside the margin, a new token is fetched
    assert source.token() == "tok-2" and source.requests_sent == 2
    first, second = (form(c.request)["client_assertion"] for c in rsps.calls if c.request.url == TOKEN_URL)
    assert (
        jwt.decode(first, EC_KEY, algorithms=["ES384"]).claims["jti"]
        != jwt.decode(second, EC_KEY, algorithms=["ES384"]).claims["jti"]
    )


def test_renew_drops_the_cached_token(rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch) -> None:
    install_auth(rsps, token_body("tok-1"), token_body("tok-2"))
    source = BackendTokenSource(backend_profile(monkeypatch), SCOPES)
    assert source.token() == "tok-1"
    assert source.renew() is True and source.token() == "tok-2"


def test_v2_scopes_refused_then_v1_spelling(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rsps.get(f"{BASE}/.well-known/smart-configuration", json=smart_config())
    rsps.post(TOKEN_URL, status=400, json={"error": "invalid_scope", "error_description": "unknown scope"})
    rsps.post(TOKEN_URL, json=token_body(scope="system/Patient.read system/ChargeItem.read"))
    source = BackendTokenSource(backend_profile(monkeypatch), SCOPES)
    assert source.token() == "tok-1"
    scopes = [form(c.request)["scope"] for c in rsps.calls if c.request.url == TOKEN_URL]
    assert scopes == [" ".join(SCOPES), "system/Patient.read system/ChargeItem.read"]


def test_v1_only_server_gets_v1_scopes_at_once(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_auth(rsps, config=smart_config(capabilities=["permission-v1"]))
    BackendTokenSource(backend_profile(monkeypatch, scopes=["system/*.rs"]), SCOPES).token()
    assert form(rsps.calls[-1].request)["scope"] == "system/*.read"
    assert v1_spelling(["system/X.rs", "system/X.r", "system/X.s", "system/X.cruds"]) == (
        "system/X.read", "system/X.cruds")  # fmt: skip


def test_refusals_are_typed_errors(rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch) -> None:
    rsps.get(f"{BASE}/.well-known/smart-configuration", json=smart_config())
    rsps.post(TOKEN_URL, status=401, json={"error": "invalid_client", "error_description": "bad signature"})
    with pytest.raises(TokenError, match="invalid_client: bad signature"):
        BackendTokenSource(backend_profile(monkeypatch), SCOPES).token()
    rsps.reset()
    rsps.get(
        f"{BASE}/.well-known/smart-configuration",
        json=smart_config(token_endpoint="https://evil.example.com/t"),
    )
    with pytest.raises(DiscoveryError, match=r"evil\.example\.com"):
        BackendTokenSource(backend_profile(monkeypatch), SCOPES).token()
    assert not [c for c in rsps.calls if "evil" in c.request.url]  # the assertion never went there


def test_missing_backend_table_or_key_is_a_config_error(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = backend_profile(monkeypatch)
    no_backend = type(profile)(**{**profile.__dict__, "backend": None})
    with pytest.raises(ClientConfigError, match=r"\[backend\]"):
        BackendTokenSource(no_backend, SCOPES)
    install_auth(rsps)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ClientConfigError, match=KEY_ENV):
        BackendTokenSource(profile, SCOPES).token()
    monkeypatch.setenv(KEY_ENV, EC_KEY.as_pem(private=False).decode())
    with pytest.raises(ClientConfigError, match="public key"):
        BackendTokenSource(profile, SCOPES).token()
