"""Issue 13: the sandbox EHR serves SMART Backend Services (client_credentials + JWT assertion, system scopes)
and Bulk Data ``$export`` (kick-off, polling with Retry-After, manifest, NDJSON files, DELETE), over real
sockets with a plain client (requests + joserfc), never through the app."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import ClientConfig, SandboxConfig
from sandbox_ehr.seed_src.build_month_charges import GROUP_ID
from sandbox_ehr.server import ServerThread

ASYM = "confidential-asymmetric"
BACKEND = ["client_credentials"]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RSA = RSAKey.generate_key(2048, parameters={"kid": "bk-rsa", "alg": "RS384"}, private=True)
EC = ECKey.generate_key("P-384", parameters={"kid": "bk-ec", "alg": "ES384"}, private=True)


def jwks(key: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


class Backend:
    """A running sandbox and a minimal backend-services client for it."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.state = server.app.extensions["sandbox"]
        self.config: SandboxConfig = self.state.config
        self.http = requests.Session()

    def assertion(self, client_id: str, key: RSAKey | ECKey, **claims: Any) -> str:
        alg = "RS384" if isinstance(key, RSAKey) else "ES384"
        now = int(time.time())
        body = {"iss": client_id, "sub": client_id, "aud": f"{self.config.auth_base}/token", "exp": now + 240,
                "iat": now, "jti": uuid.uuid4().hex, **claims}  # fmt: skip
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, body, key, algorithms=[alg])

    def token_response(self, client_id: str = "scrub", key: RSAKey | ECKey = RSA, scope: str = "system/*.rs",
                       assertion: str | None = None) -> requests.Response:  # fmt: skip
        data = {"grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion or self.assertion(client_id, key)}  # fmt: skip
        return self.http.post(f"{self.config.auth_base}/token", data=data)

    def token(self, client_id: str = "scrub", key: RSAKey | ECKey = RSA, scope: str = "system/*.rs") -> str:
        resp = self.token_response(client_id, key, scope)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def get(self, url: str, token: str | None, **headers: str) -> requests.Response:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.get(
            url if url.startswith("http") else f"{self.config.fhir_base}/{url}", headers=headers
        )

    def kick_off(self, path: str, token: str | None, **headers: str) -> requests.Response:
        headers = {"Accept": "application/fhir+json", "Prefer": "respond-async", **headers}
        return self.get(path, token, **headers)

    def finish(self, status_url: str, token: str) -> dict[str, Any]:
        for _ in range(10):
            resp = self.get(status_url, token)
            if resp.status_code == 200:
                return dict(resp.json())
            assert resp.status_code == 202, resp.text
        raise AssertionError("export never completed")


def _serve(**config: Any) -> ServerThread:
    clients = [
        ClientConfig("scrub", ASYM, jwks=jwks(RSA), grant_types=BACKEND),
        ClientConfig("scrub-ec", ASYM, jwks=jwks(EC), grant_types=BACKEND),
        ClientConfig("narrow", ASYM, jwks=jwks(RSA), grant_types=BACKEND, scope="system/Patient.rs"),
        ClientConfig("browser-app", "confidential-symmetric", ["http://127.0.0.1:9/cb"], client_secret="s3"),
    ]  # fmt: skip
    server = ServerThread("127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}"
    cfg = SandboxConfig(base_url=base, clients=clients, export_retry_after=0, seed_month=True, **config)
    return server.serve(create_sandbox_app(cfg))


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    server = _serve()
    yield Backend(server)
    server.stop()


@pytest.fixture
def ehr(backend: Backend) -> Backend:
    backend.state.reset()
    return backend


def test_backend_token_for_rs384_and_es384_assertions_with_system_scopes_only(ehr: Backend) -> None:
    for client_id, key in (("scrub", RSA), ("scrub-ec", EC)):
        resp = ehr.token_response(client_id, key, "system/*.rs patient/*.rs launch openid")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["scope"] == "system/*.rs"  # user and launch scopes are never granted to a backend service
        assert body["expires_in"] == 300 and body["token_type"].lower() == "bearer"
        assert "refresh_token" not in body and "patient" not in body


def test_backend_token_refusals(ehr: Backend) -> None:
    replay = ehr.assertion("scrub", RSA)
    assert ehr.token_response(assertion=replay).status_code == 200
    assert ehr.token_response(assertion=replay).json()["error"] == "invalid_client"  # jti used once
    wrong_aud = ehr.assertion("scrub", RSA, aud="http://elsewhere.invalid/token")
    assert ehr.token_response(assertion=wrong_aud).json()["error"] == "invalid_client"
    assert ehr.token_response("scrub", EC).json()["error"] == "invalid_client"  # not the registered key
    assert ehr.token_response(scope="patient/*.rs").json()["error"] == "invalid_scope"
    secret = ehr.http.post(f"{ehr.config.auth_base}/token", data={"grant_type": "client_credentials"},
                           auth=("browser-app", "s3"))  # fmt: skip
    assert secret.status_code in (400, 401) and secret.json()["error"] in (
        "unauthorized_client",
        "invalid_client",
    )


def test_group_export_polls_then_manifest_files_and_delete(ehr: Backend) -> None:
    token = ehr.token()
    kick = ehr.kick_off(f"Group/{GROUP_ID}/$export?_type=Patient,ChargeItem,Encounter", token)
    assert kick.status_code == 202, kick.text
    status_url = kick.headers["Content-Location"]
    for _ in range(ehr.config.export_polls):
        poll = ehr.get(status_url, token)
        assert poll.status_code == 202 and poll.headers["Retry-After"] == "0" and "X-Progress" in poll.headers
    manifest = ehr.get(status_url, token)
    assert manifest.status_code == 200
    body = manifest.json()
    assert body["requiresAccessToken"] is True and body["error"] == []
    assert body["request"].endswith(f"Group/{GROUP_ID}/$export?_type=Patient,ChargeItem,Encounter")
    names = [o["url"].rsplit("/", 1)[1] for o in body["output"]]
    assert names[:3] == ["Patient.ndjson", "ChargeItem.ndjson", "ChargeItem.2.ndjson"]  # 500 a file
    assert {o["type"] for o in body["output"]} == {"Patient", "ChargeItem", "Encounter"}
    members = {
        m["entity"]["reference"].split("/")[1] for m in ehr.state.store.read("Group", GROUP_ID)["member"]
    }
    charges: list[dict[str, Any]] = []
    for out in body["output"]:
        assert ehr.get(out["url"], None).status_code == 401  # requiresAccessToken
        file = ehr.get(out["url"], token)
        assert file.status_code == 200 and file.headers["Content-Type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in file.text.splitlines()]
        assert len(lines) == out["count"] and {r["resourceType"] for r in lines} == {out["type"]}
        charges += [r for r in lines if r["resourceType"] == "ChargeItem"]
    assert {c["subject"]["reference"].split("/")[1] for c in charges} <= members
    assert len(charges) == len(ehr.state.store.scan("ChargeItem")) >= 300
    assert ehr.http.delete(status_url, headers={"Authorization": f"Bearer {token}"}).status_code == 202
    assert ehr.get(status_url, token).status_code == 404 and len(ehr.state.exports) == 0


def test_patient_export_includes_every_patient_and_since_filters(ehr: Backend) -> None:
    token = ehr.token()
    everyone = ehr.finish(
        ehr.kick_off("Patient/$export?_type=Patient", token).headers["Content-Location"], token
    )
    assert sum(o["count"] for o in everyone["output"]) == ehr.state.store.count("Patient")
    kick = ehr.kick_off(f"Group/{GROUP_ID}/$export?_type=Patient", token)
    group = ehr.finish(kick.headers["Content-Location"], token)
    assert sum(o["count"] for o in group["output"]) < ehr.state.store.count("Patient")  # no Synthea patients
    later = "2999-01-01T00:00:00Z"
    none = ehr.finish(
        ehr.kick_off(f"Patient/$export?_since={later}", token).headers["Content-Location"], token
    )
    assert none["output"] == []
    assert (
        ehr.kick_off("Patient/$export?_since=2026-03-01", token).status_code == 400
    )  # an instant needs a zone


def test_kick_off_refusals(ehr: Backend) -> None:
    token = ehr.token()
    assert ehr.get("Patient/$export", token, Accept="application/fhir+json").status_code == 400  # no Prefer
    assert ehr.kick_off("Patient/$export?_type=Nonsense", token).status_code == 400
    assert (
        ehr.kick_off("Patient/$export?_typeFilter=ChargeItem%3Fstatus%3Dbillable", token).status_code == 400
    )
    lenient = ehr.kick_off("Patient/$export?_elements=id", token, Prefer="respond-async, handling=lenient")
    assert lenient.status_code == 202
    assert ehr.kick_off("Group/no-such-group/$export", token).status_code == 404
    assert ehr.kick_off("Patient/$export", None).status_code == 401
    narrow = ehr.token("narrow", scope="system/Patient.rs")
    refused = ehr.kick_off("Patient/$export?_type=Patient,ChargeItem", narrow)
    assert refused.status_code == 403 and "ChargeItem" in refused.text
    only_patients = ehr.finish(ehr.kick_off("Patient/$export", narrow).headers["Content-Location"], narrow)
    assert {o["type"] for o in only_patients["output"]} == {"Patient"}


def test_a_job_is_only_visible_to_the_client_that_started_it(ehr: Backend) -> None:
    status_url = ehr.kick_off("Patient/$export?_type=Patient", ehr.token()).headers["Content-Location"]
    other = ehr.token("scrub-ec", EC)
    assert ehr.get(status_url, other).status_code == 404
    assert ehr.http.delete(status_url, headers={"Authorization": f"Bearer {other}"}).status_code == 404


def test_capability_statement_announces_export_and_discovery_client_credentials(ehr: Backend) -> None:
    statement = ehr.get("metadata", None).json()
    assert statement["rest"][0]["operation"][0]["name"] == "export"
    group = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Group")
    assert group["operation"][0]["definition"].endswith("/group-export")
    config = ehr.get(".well-known/smart-configuration", None).json()
    assert "client_credentials" in config["grant_types_supported"]
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]


def test_export_switched_off() -> None:
    server = _serve(bulk_export=False)
    try:
        off = Backend(server)
        assert off.kick_off("Patient/$export", off.token()).status_code == 404
        statement = off.get("metadata", None).json()
        assert "operation" not in statement["rest"][0] and "instantiates" not in statement
    finally:
        server.stop()
