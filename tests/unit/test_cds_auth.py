"""The CDS client's JWT: ES384/RS384 accepted; bad signature, wrong aud, expired, replayed, unknown iss,
HS256, none and a foreign jku refused; the clients file validated.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import responses
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from smart_app.cds_hooks.auth import ClientAuthError, ConfigError, Verifier, load_clients

ISS = "https://ehr.test/cds-client"
JWKS_URL = "https://ehr.test/cds-client/jwks.json"
AUD = "https://app.test/cds-services/patient-view"
EC = ECKey.generate_key("P-384", parameters={"kid": "ec-1"}, private=True)
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)


def sign(key: Any, alg: str, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()), **claims}
    body = {k: v for k, v in body.items() if v is not None}
    head = {"alg": alg, "typ": "JWT", "kid": key.kid, **(header or {})}
    return jwt.encode(head, body, key, algorithms=[alg])


def public_jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def clients_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "cds-clients.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def verifier(tmp_path: Path) -> Verifier:
    path = clients_file(tmp_path, f'[[client]]\niss = "{ISS}"\njwks_url = "{JWKS_URL}"\n')
    seen: set[tuple[str, str]] = set()

    def seen_jti(iss: str, jti: str, exp: int) -> bool:
        if (iss, jti) in seen:
            return True
        seen.add((iss, jti))
        return False

    return Verifier(load_clients(path), seen_jti)


@responses.activate
@pytest.mark.parametrize(("key", "alg"), [(EC, "ES384"), (RSA, "RS384")])
def test_signed_request_is_accepted(verifier: Verifier, key: Any, alg: str) -> None:
    responses.get(JWKS_URL, json=public_jwks(EC, RSA))
    claims = verifier.verify("Bearer " + sign(key, alg), AUD)
    assert claims["iss"] == ISS


@responses.activate
def test_aud_may_be_a_list_holding_the_endpoint(verifier: Verifier) -> None:
    responses.get(JWKS_URL, json=public_jwks(EC))
    assert verifier.verify("Bearer " + sign(EC, "ES384", aud=[AUD, "https://other.test"]), AUD)


@responses.activate
def test_the_key_set_is_cached_and_refetched_for_a_new_kid(verifier: Verifier) -> None:
    responses.get(JWKS_URL, json=public_jwks(EC))
    verifier.verify("Bearer " + sign(EC, "ES384"), AUD)
    verifier.verify("Bearer " + sign(EC, "ES384"), AUD)
    assert len(responses.calls) == 1
    responses.replace(responses.GET, JWKS_URL, json=public_jwks(EC, RSA))
    verifier.verify("Bearer " + sign(RSA, "RS384"), AUD)  # rotated in: one refetch
    assert len(responses.calls) == 2


def _forged_none() -> str:
    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 60, "jti": "x"}
    return b64({"alg": "none", "typ": "JWT"}) + "." + b64(claims) + "."


OTHER_EC = ECKey.generate_key("P-384", parameters={"kid": "ec-1"}, private=True)
HMAC = OctKey.generate_key(256, parameters={"kid": "ec-1"})


@responses.activate
@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "Bearer"),
        ("Basic abc", "Bearer"),
        ("Bearer not.a.jwt", "malformed"),
        ("Bearer " + _forged_none(), "alg"),
        ("Bearer " + sign(HMAC, "HS256"), "alg"),
        ("Bearer " + sign(OTHER_EC, "ES384"), "signature"),
        ("Bearer " + sign(EC, "ES384", aud="https://app.test/cds-services/encounter-start"), "aud"),
        ("Bearer " + sign(EC, "ES384", iat=int(time.time()) - 900, exp=int(time.time()) - 600), "expired"),
        ("Bearer " + sign(EC, "ES384", iss="https://evil.test"), "unknown issuer"),
        ("Bearer " + sign(EC, "ES384", jti=None), "jti"),
        ("Bearer " + sign(EC, "ES384", exp=int(time.time()) + 86400), "too long"),
        ("Bearer " + sign(EC, "ES384", header={"jku": "https://evil.test/jwks"}), "jku"),
    ],
)
def test_wrong_requests_are_refused(verifier: Verifier, authorization: str | None, reason: str) -> None:
    responses.get(JWKS_URL, json=public_jwks(EC, RSA))
    with pytest.raises(ClientAuthError, match=reason):
        verifier.verify(authorization, AUD)


@responses.activate
def test_a_replayed_jti_is_refused(verifier: Verifier) -> None:
    responses.get(JWKS_URL, json=public_jwks(EC))
    token = "Bearer " + sign(EC, "ES384")
    verifier.verify(token, AUD)
    with pytest.raises(ClientAuthError, match="already used"):
        verifier.verify(token, AUD)


def test_inline_jwks_and_algorithm_allowlist(tmp_path: Path) -> None:
    key = public_jwks(EC)["keys"][0]
    table = ", ".join(f"{k} = {json.dumps(v)}" for k, v in key.items())
    path = clients_file(
        tmp_path, f'[[client]]\niss = "{ISS}"\nalgorithms = ["ES384"]\njwks = {{ keys = [{{ {table} }}] }}\n'
    )
    v = Verifier(load_clients(path), lambda *_: False)
    assert v.verify("Bearer " + sign(EC, "ES384"), AUD)
    with pytest.raises(ClientAuthError, match="not allowed for this issuer"):
        v.verify("Bearer " + sign(RSA, "RS384"), AUD)


@pytest.mark.parametrize(
    "body",
    [
        "",
        '[[client]]\njwks_url = "https://x.test/j"\n',
        f'[[client]]\niss = "{ISS}"\n',
        f'[[client]]\niss = "{ISS}"\njwks_url = "https://x.test/j"\nalgorithms = ["HS256"]\n',
        f'[[client]]\niss = "{ISS}"\njwks = {{ keys = [{{ kty = "oct", k = "c2VjcmV0" }}] }}\n',
        f'[[client]]\niss = "{ISS}"\njwks_url = "ftp://x.test/j"\n',
        "not toml [",
    ],
)
def test_bad_clients_files_are_refused(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError):
        load_clients(clients_file(tmp_path, body))


def test_a_private_key_in_the_clients_file_is_refused(tmp_path: Path) -> None:
    key = EC.as_dict(private=True)
    table = ", ".join(f"{k} = {json.dumps(v)}" for k, v in key.items())
    with pytest.raises(ConfigError, match="private"):
        load_clients(
            clients_file(tmp_path, f'[[client]]\niss = "{ISS}"\njwks = {{ keys = [{{ {table} }}] }}\n')
        )
