"""A stand-in EHR for HTTP tests: SMART discovery, token endpoint, signing keys, FHIR answers (`responses`).

Used by tests/http/test_launch*.py, test_reads*.py and test_security*.py: a whole launch reads as one line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from smart_app import create_app
from smart_app.reads import forget_capabilities

ISS = "https://ehr.test/fhir"
AUTHORIZE = "https://ehr.test/auth/authorize"
TOKEN = "https://ehr.test/auth/token"
JWKS = "https://ehr.test/auth/jwks"
SCOPES = ["openid", "fhirUser", "patient/Patient.r", "patient/Encounter.r", "patient/Condition.rs"]
EHR_KEY = RSAKey.generate_key(2048, parameters={"kid": "ehr-1"})


def write_profile(directory: Path, name: str, iss: str = ISS, **extra: Any) -> None:
    lines = [f'name = "{name}"', f'iss = "{iss}"', 'client_id = "app-1"', f"scopes = {json.dumps(SCOPES)}"]
    for key, value in extra.items():
        lines.append(f"{key} = {json.dumps(value)}")
    (directory / f"{name}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_app(tmp_path: Path, **profile: Any) -> Flask:
    forget_capabilities()
    config_dir = tmp_path / "profiles"
    config_dir.mkdir(exist_ok=True)
    write_profile(config_dir, "test-ehr", **({"client_auth": "none"} | profile))
    return create_app(
        {
            "TESTING": True,
            "SMART_EDU_DATABASE_URL": "sqlite://",
            "SMART_EDU_LAUNCH_CONFIG": str(config_dir),
            "SMART_EDU_BASE_URL": "https://app.test",
            "SMART_EDU_SECRET_KEY": "test-secret",
        }
    )


def smart_configuration(**overrides: Any) -> dict[str, Any]:
    return {
        "issuer": ISS,
        "authorization_endpoint": AUTHORIZE,
        "token_endpoint": TOKEN,
        "jwks_uri": JWKS,
        "code_challenge_methods_supported": ["S256"],
        "capabilities": ["launch-ehr", "launch-standalone", "client-public", "sso-openid-connect"],
    } | overrides


def id_token(claims: dict[str, Any] | None = None, key: RSAKey = EHR_KEY) -> str:
    now = int(time.time())
    body = {
        "iss": ISS,
        "aud": "app-1",
        "sub": "u1",
        "iat": now,
        "exp": now + 300,
        "fhirUser": f"{ISS}/Practitioner/p1",
    }
    return jwt.encode({"alg": "RS256", "kid": "ehr-1"}, body | (claims or {}), key)


def token_response(**overrides: Any) -> dict[str, Any]:
    return {
        "access_token": "at-1",
        "token_type": "bearer",
        "expires_in": 3600,
        "scope": " ".join([*SCOPES, "launch"]),
        "refresh_token": "rt-1",
        "id_token": id_token(),
        "patient": "pat-1",
        "encounter": "enc-1",
        "need_patient_banner": True,
        "smart_style_url": "https://ehr.test/style.json",
        "tenant": "t-1",
    } | overrides


def mock_discovery(rsps: responses.RequestsMock, **overrides: Any) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", json=smart_configuration(**overrides))
    rsps.get(JWKS, json={"keys": [EHR_KEY.as_dict(private=False)]})


def start(client: FlaskClient, *, launch: str | None = "launch-abc") -> tuple[str, dict[str, list[str]]]:
    """/launch → /launch/proceed → authorize redirect; returns (state, authorize query)."""
    query = {"iss": ISS, **({"launch": launch} if launch else {})}
    first = client.get("/launch", query_string=query)
    assert first.status_code == 302, first.data
    second = client.get(first.headers["Location"])
    assert second.status_code == 302, second.data
    location = second.headers["Location"]
    assert location.startswith(AUTHORIZE)
    params = parse_qs(urlsplit(location).query)
    return params["state"][0], params


def token_form(rsps: responses.RequestsMock) -> dict[str, list[str]]:
    calls = [c for c in rsps.calls if c.request.url == TOKEN]
    body = calls[-1].request.body
    return parse_qs(body if isinstance(body, str) else (body or b"").decode())


def launch_to_handle(client: FlaskClient, rsps: responses.RequestsMock, **token: Any) -> str:
    """A complete EHR launch; returns the launch handle."""
    mock_discovery(rsps)
    rsps.post(TOKEN, json=token_response(**token))
    state, _ = start(client)
    resp = client.get("/callback", query_string={"state": state, "code": "code-1"})
    assert resp.status_code == 302, resp.data
    return resp.headers["Location"].split("/s/")[1].strip("/")


def client_keys() -> tuple[RSAKey, ECKey]:
    return RSAKey.generate_key(2048), ECKey.generate_key("P-384")
