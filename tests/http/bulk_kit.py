"""Helpers for the Bulk Data / Backend Services HTTP tests: a profile with a ``[backend]`` table, an EHR's
discovery and token endpoint stubbed with ``responses``, and a fake clock whose sleep advances it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from joserfc.jwk import ECKey, RSAKey

from smart_app.profiles import Profile, profile_from_mapping

BASE = "https://ehr.example.org/fhir"
TOKEN_URL = "https://ehr.example.org/oauth2/token"
KEY_ENV = "TEST_BULK_BACKEND_KEY"
EC_KEY = ECKey.generate_key("P-384", parameters={"kid": "bk-1"}, private=True)
RSA_KEY = RSAKey.generate_key(2048, parameters={"kid": "bk-rsa"}, private=True)


def backend_profile(
    monkeypatch: pytest.MonkeyPatch, *, alg: str = "ES384", key: Any = EC_KEY, **backend: Any
) -> Profile:
    monkeypatch.setenv(KEY_ENV, key.as_pem(private=True).decode())
    table = {"client_id": "scrub-client", "private_key_env": KEY_ENV, "key_id": "bk-1", "alg": alg, **backend}
    return profile_from_mapping(
        {"name": "ehr", "iss": BASE, "client_id": "launch-client", "scopes": ["openid"], "backend": table}
    )


def smart_config(**overrides: Any) -> dict[str, Any]:
    return {"token_endpoint": TOKEN_URL, "capabilities": ["permission-v2", "client-confidential-asymmetric"],
            **overrides}  # fmt: skip


def token_body(
    token: str = "tok-1",  # noqa: S107 (a test token)
    expires_in: int = 300,
    scope: str = "system/*.rs",
) -> dict[str, Any]:
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": scope}


def form(request: Any) -> dict[str, str]:
    return {
        k: v[0]
        for k, v in parse_qs(request.body if isinstance(request.body, str) else request.body.decode()).items()
    }


def install_auth(
    rsps: responses.RequestsMock, *tokens: dict[str, Any], config: dict[str, Any] | None = None
) -> None:
    rsps.get(f"{BASE}/.well-known/smart-configuration", json=config or smart_config())
    for body in tokens or (token_body(),):
        rsps.post(TOKEN_URL, json=body)


def capability(
    *, export: bool = True, types: tuple[str, ...] = ("Patient", "ChargeItem", "Group")
) -> dict[str, Any]:
    rest: dict[str, Any] = {"mode": "server", "resource": [{"type": t} for t in types]}
    if export:
        rest["operation"] = [
            {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}
        ]
    return {"resourceType": "CapabilityStatement", "rest": [rest]}


def ndjson(*resources: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in resources)


@dataclass
class FakeTime:
    """``clock`` and ``sleep`` for the poller: sleeping advances the clock and is recorded."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
