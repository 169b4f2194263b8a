"""The OpenID Connect ``nonce``: sent with every authorization request, checked in the id_token answering it.

SMART App Launch does not require a nonce; OIDC Core §3.1.2.1 recommends it. The app sends one (kept server
side, like the state) and refuses an id_token that carries a different one, so an id_token minted for another
sign-in never makes the app trust its ``fhirUser``. See docs/security.md for why a missing one is tolerated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from flask import Flask

from smart_app.launches import db_of
from smart_app.store import LaunchRecord
from tests.http.smart_kit import TOKEN, id_token, make_app, mock_discovery, start, token_response


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


def _callback(
    app: Flask, rsps: responses.RequestsMock, claims: dict[str, object] | None
) -> tuple[int, bytes]:
    """Launch, let the EHR answer with an id_token built from the authorize query, return the callback."""
    mock_discovery(rsps)
    client = app.test_client()
    state, query = start(client)
    nonce = query["nonce"][0]
    extra = {key: (nonce if value is SENT else value) for key, value in (claims or {}).items()}
    rsps.post(TOKEN, json=token_response(id_token=id_token(extra)))
    resp = client.get("/callback", query_string={"state": state, "code": "c"})
    return resp.status_code, resp.data


SENT = object()


def test_every_authorization_request_carries_a_fresh_nonce_of_at_least_128_bits(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    mock_discovery(rsps)
    nonces = [start(app.test_client())[1]["nonce"][0] for _ in range(2)]
    assert nonces[0] != nonces[1]
    assert all(len(n) >= 22 for n in nonces)  # 32 random bytes, base64url: well above 128 bits


def test_an_id_token_with_the_sent_nonce_is_trusted(app: Flask, rsps: responses.RequestsMock) -> None:
    status, _ = _callback(app, rsps, {"nonce": SENT})
    assert status == 302
    with db_of(app).session() as s:
        record = s.query(LaunchRecord).one()
        assert record.status == "active" and record.id_token_verified


def test_an_id_token_with_another_nonce_is_refused(app: Flask, rsps: responses.RequestsMock) -> None:
    status, body = _callback(app, rsps, {"nonce": "minted-for-another-sign-in"})
    assert status == 403 and b"nonce" in body.lower()
    with db_of(app).session() as s:
        record = s.query(LaunchRecord).one()
        assert record.status == "failed" and record.handle is None and record.access_token is None


def test_an_id_token_without_a_nonce_is_accepted_as_smart_allows(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    status, _ = _callback(app, rsps, None)
    assert status == 302
