"""Conformance fixtures: the sandbox EHR on real loopback sockets, driven by a plain OAuth client
(requests + Authlib's client helpers), never through the app."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey

from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import ClientConfig, SandboxConfig
from sandbox_ehr.server import ServerThread

REDIRECT = "http://127.0.0.1:9/cb"  # never contacted: tests read the Location header
LAUNCH = "http://127.0.0.1:9/launch"
SECRET = "symmetric-app-secret-for-tests"
FULL_SCOPE = "launch openid fhirUser offline_access patient/*.cruds user/Practitioner.r"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Ehr:
    """A running sandbox and a tiny OAuth client for it."""

    server: ServerThread
    config: SandboxConfig
    jwks_key: RSAKey | None = None
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def base(self) -> str:
        return self.config.base_url

    @property
    def fhir(self) -> str:
        return self.config.fhir_base

    @property
    def state(self) -> Any:
        return self.server.app.extensions["sandbox"]

    def launch_value(
        self, client_id: str = "public-app", patient: str = "edu-dm-commercial", **extra: str
    ) -> str:
        args = {
            "client_id": client_id,
            "practitioner": "rn-okafor",
            "patient": patient,
            "frame": "0",
            **extra,
        }
        resp = self.http.get(f"{self.base}/launcher?{urlencode(args)}", allow_redirects=False)
        assert resp.status_code == 302, resp.text
        return query_of(resp.headers["Location"])["launch"]

    def authorize(self, **params: str) -> requests.Response:
        """GET the authorize endpoint without following the redirect back to the (fake) app."""
        return self.http.get(f"{self.config.auth_base}/authorize", params=params, allow_redirects=False)

    def ehr_code(
        self, client_id: str = "public-app", scope: str = FULL_SCOPE, patient: str = "edu-dm-commercial"
    ) -> tuple[str, str]:
        """Run an EHR launch's authorize step; returns (code, verifier)."""
        verifier, challenge = pkce_pair()
        resp = self.authorize(
            response_type="code", client_id=client_id, redirect_uri=REDIRECT, scope=scope, state="s1",
            aud=self.fhir, launch=self.launch_value(client_id, patient), code_challenge=challenge,
            code_challenge_method="S256",
        )  # fmt: skip
        assert resp.status_code == 302, resp.text
        args = query_of(resp.headers["Location"])
        assert "code" in args, args
        return args["code"], verifier

    def token(self, data: dict[str, str], auth: tuple[str, str] | None = None) -> requests.Response:
        return self.http.post(f"{self.config.auth_base}/token", data=data, auth=auth)

    def exchange(
        self, code: str, verifier: str, client_id: str = "public-app", **auth: Any
    ) -> requests.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        }
        if client_id == "public-app":
            data["client_id"] = client_id
        return self.token(data, auth.get("auth"))

    def access_token(self, scope: str = FULL_SCOPE, patient: str = "edu-dm-commercial") -> dict[str, Any]:
        code, verifier = self.ehr_code(scope=scope, patient=patient)
        resp = self.exchange(code, verifier)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def fhir_get(self, path: str, token: str | None = None, **headers: str) -> requests.Response:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.get(f"{self.fhir}/{path}", headers=headers)

    def fhir_send(
        self, method: str, path: str, body: Any, token: str | None = None, **headers: str
    ) -> requests.Response:
        headers = {"Content-Type": "application/fhir+json", **headers}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, f"{self.fhir}/{path}", data=json.dumps(body), headers=headers)

    def login_form(self, response: requests.Response) -> dict[str, str]:
        """Hidden fields of the sandbox's development login page (CSRF token included)."""
        return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', response.text))


def _start(config: SandboxConfig) -> ServerThread:
    server = ServerThread("127.0.0.1", 0)
    config.base_url = f"http://127.0.0.1:{server.port}"
    return server.serve(create_sandbox_app(config))


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[tuple[ServerThread, RSAKey]]:
    """A tiny JWKS host for the confidential-asymmetric client (SMART: keys come from a JWKS URL)."""
    key = RSAKey.generate_key(2048, parameters={"kid": "asym-1", "alg": "RS384", "use": "sig"}, private=True)
    body = json.dumps({"keys": [key.as_dict(private=False)]}).encode()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    server = ServerThread("127.0.0.1", 0).serve(app)
    yield server, key
    server.stop()


@pytest.fixture(scope="module")
def ehr(jwks_server: tuple[ServerThread, RSAKey]) -> Iterator[Ehr]:
    jwks_host, key = jwks_server
    clients = [
        ClientConfig("public-app", "public", [REDIRECT], LAUNCH),
        ClientConfig("symmetric-app", "confidential-symmetric", [REDIRECT], LAUNCH, client_secret=SECRET),
        ClientConfig("asymmetric-app", "confidential-asymmetric", [REDIRECT], LAUNCH,
                     jwks_url=f"http://127.0.0.1:{jwks_host.port}/jwks.json"),
    ]  # fmt: skip
    server = _start(SandboxConfig(base_url="http://placeholder", clients=clients))
    yield Ehr(server, server.app.extensions["sandbox"].config, key)
    server.stop()


@pytest.fixture
def fresh_ehr(ehr: Ehr) -> Ehr:
    ehr.state.reset()
    ehr.http.cookies.clear()
    return ehr


@pytest.fixture(scope="module")
def open_ehr() -> Iterator[Ehr]:
    """Open mode (no auth on the FHIR API), as ``smart-edu sandbox-test`` uses it."""
    server = _start(SandboxConfig(base_url="http://placeholder", open_fhir=True))
    yield Ehr(server, server.app.extensions["sandbox"].config)
    server.stop()


@pytest.fixture
def store(open_ehr: Ehr) -> Ehr:
    open_ehr.state.reset()
    return open_ehr
