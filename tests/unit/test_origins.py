"""Origins: the one comparison that decides where the app may send codes, secrets and tokens."""

from __future__ import annotations

import pytest

from smart_app.origins import is_allowed, origin_of
from smart_app.profiles import ProfileError, profile_from_mapping

BASE = {"name": "p", "iss": "https://ehr.example.org/fhir", "client_id": "c", "scopes": ["openid"]}


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://EHR.example.org/fhir", "https://ehr.example.org"),
        ("https://ehr.example.org:443/x", "https://ehr.example.org"),
        ("https://ehr.example.org:8443/x", "https://ehr.example.org:8443"),
        ("http://127.0.0.1:5000/fhir", "http://127.0.0.1:5000"),
        ("https://[::1]:8443/", "https://[::1]:8443"),
        ("https://ehr.example.org@evil.example/x", None),
        ("https://user:pw@ehr.example.org/x", None),
        ("javascript:alert(1)", None),
        ("//ehr.example.org/x", None),
        ("https://ehr.example.org:99999/", None),
        ("", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "https://ehr.example.org.evil.example/token",
        "https://evil.example/ehr.example.org/token",
        "https://ehr.example.org@evil.example/token",
        "http://ehr.example.org/token",
        "https://ehr.example.org:444/token",
    ],
)
def test_lookalike_hosts_are_not_allowed(url: str) -> None:
    assert not is_allowed(url, ["https://ehr.example.org"])


def test_trusted_origins_are_the_issuer_the_listed_hosts_and_the_overrides() -> None:
    profile = profile_from_mapping(
        BASE
        | {
            "auth_origins": ["https://auth.vendor.example"],
            "discovery": {"token_endpoint": "https://token.vendor.example:8443/t"},
        }
    )
    assert profile.trusted_origins == {
        "https://ehr.example.org",
        "https://auth.vendor.example",
        "https://token.vendor.example:8443",
    }


@pytest.mark.parametrize(
    "bad", ["https://auth.vendor.example/path", "auth.vendor.example", "https://a@b.example"]
)
def test_auth_origins_must_be_bare_origins(bad: str) -> None:
    with pytest.raises(ProfileError, match="auth_origins"):
        profile_from_mapping(BASE | {"auth_origins": [bad]})
