"""Issue 4: token lifetimes are configurable, for the whole sandbox and per client."""

from __future__ import annotations

from tests.sandbox.conftest import Ehr


def test_access_token_lifetime_comes_from_the_sandbox_then_the_client_configuration(fresh_ehr: Ehr) -> None:
    config = fresh_ehr.state.config
    client = config.client("public-app")
    saved = (config.access_token_lifetime, client.access_token_lifetime)
    try:
        config.access_token_lifetime = 123
        assert fresh_ehr.access_token()["expires_in"] == 123
        client.access_token_lifetime = 45  # the client's own setting wins
        token = fresh_ehr.access_token()
        assert token["expires_in"] == 45
        stored = fresh_ehr.state.tokens.by_access(token["access_token"])
        assert stored is not None and stored.expires_in == 45  # the API enforces what the response says
    finally:
        config.access_token_lifetime, client.access_token_lifetime = saved
