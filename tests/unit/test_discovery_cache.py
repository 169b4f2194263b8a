"""SMART discovery (issue 2): cached per issuer for a limited time; requests carry connect+read timeouts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses

from smart_app.profiles import Profile, profile_from_mapping
from smart_app.smart.discovery import Discovery


def profile(iss: str) -> Profile:
    return profile_from_mapping(
        {"name": iss.split("//")[1].split(".")[0], "iss": iss, "client_id": "app", "client_auth": "none",
         "scopes": ["openid", "fhirUser", "patient/Patient.r"]}
    )  # fmt: skip


def config(iss: str) -> dict[str, object]:
    origin = iss.rsplit("/", 1)[0]
    return {"authorization_endpoint": f"{origin}/authorize", "token_endpoint": f"{origin}/token",
            "code_challenge_methods_supported": ["S256"]}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for iss in ("https://a.test/fhir", "https://b.test/fhir"):
            mock.get(f"{iss}/.well-known/smart-configuration", json=config(iss))
        yield mock


def fetches(rsps: responses.RequestsMock, host: str) -> int:
    return sum(1 for c in rsps.calls if str(c.request.url).startswith(f"https://{host}/"))


def test_each_issuer_is_cached_on_its_own_until_the_time_limit(rsps: responses.RequestsMock) -> None:
    clock = Clock()
    discovery = Discovery(requests.Session(), ttl=600, clock=clock)
    a, b = profile("https://a.test/fhir"), profile("https://b.test/fhir")
    assert discovery.endpoints(a).token_endpoint == "https://a.test/token"
    assert discovery.endpoints(b).token_endpoint == "https://b.test/token"
    clock.now += 599
    discovery.endpoints(a)
    discovery.endpoints(b)
    assert (fetches(rsps, "a.test"), fetches(rsps, "b.test")) == (1, 1)
    clock.now += 2  # past the time limit: fetched again
    discovery.endpoints(a)
    assert (fetches(rsps, "a.test"), fetches(rsps, "b.test")) == (2, 1)


def test_every_discovery_request_has_a_connect_and_a_read_timeout(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []
    session = requests.Session()
    original = session.get

    def get(url: str, **kwargs: object) -> requests.Response:
        seen.append(kwargs.get("timeout"))
        return original(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(session, "get", get)
    Discovery(session).endpoints(profile("https://a.test/fhir"))
    assert seen and all(isinstance(t, tuple) and len(t) == 2 and all(t) for t in seen)
