"""A stand-in EHR for HTTP tests: SMART discovery, token endpoint, signing keys, FHIR answers (`responses`).

Used by tests/http/test_launch*.py, test_reads*.py and test_security*.py: a whole launch reads as one line.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import responses
from flask import Flask, g
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from smart_app import create_app
from smart_app.launches import Launch, launch_required, load_launch
from smart_app.reads import forget_capabilities, read_launch_context

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


class FakeFhir:
    """A FHIR server answering reads and searches from a list of resources, via batch or single GETs."""

    def __init__(self, resources: list[dict[str, Any]], *, batch: bool = True, page_size: int = 50) -> None:
        self.resources = resources
        self.batch = batch
        self.page_size = page_size
        self.entry_overrides: dict[str, tuple[int, dict[str, Any]]] = {}

    def install(self, rsps: responses.RequestsMock) -> None:
        interactions = [{"code": "batch"}, {"code": "transaction"}] if self.batch else []
        caps = {
            "resourceType": "CapabilityStatement",
            "rest": [{"mode": "server", "interaction": interactions}],
        }
        rsps.get(f"{ISS}/metadata", json=caps)
        rsps.add_callback(
            responses.POST, f"{ISS}/", callback=self._batch, content_type="application/fhir+json"
        )
        pattern = re.compile(re.escape(ISS) + r"/(?!metadata|\.well-known)[A-Za-z]+.*")
        rsps.add_callback(responses.GET, pattern, callback=self._single, content_type="application/fhir+json")

    def answer(self, relative: str) -> tuple[int, dict[str, Any]]:
        for prefix, override in self.entry_overrides.items():
            if relative.startswith(prefix):
                return override
        path, _, query = relative.partition("?")
        params = parse_qs(query)
        if "/" in path:
            rtype, rid = path.split("/", 1)
            for res in self.resources:
                if res["resourceType"] == rtype and res.get("id") == rid:
                    return 200, res
            return 404, outcome(f"{path} is not known")
        found = [r for r in self.resources if r["resourceType"] == path]
        if "_include" in params:
            found += [r for r in self.resources if r["resourceType"] == "Organization"]
        offset = int(params.get("_offset", ["0"])[0])
        page = found[offset : offset + self.page_size]
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                                  "entry": [{"resource": r} for r in page], "link": []}  # fmt: skip
        if offset + self.page_size < len(found):
            rest = urlencode({**{k: v[0] for k, v in params.items()}, "_offset": offset + self.page_size})
            bundle["link"].append({"relation": "next", "url": f"{ISS}/{path}?{rest}"})
        return 200, bundle

    def _batch(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        entries = []
        for entry in body["entry"]:
            status, resource = self.answer(entry["request"]["url"])
            entries.append(
                {
                    "resource": resource,
                    "response": {"status": f"{status} {'OK' if status < 300 else 'Error'}"},
                }
            )
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": entries})

    def _single(self, request: Any) -> tuple[int, dict[str, str], str]:
        relative = request.url[len(ISS) + 1 :]
        status, body = self.answer(unquote(relative))
        return status, {}, json.dumps(body)


def outcome(text: str, code: str = "not-found") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    data = json.loads((Path(__file__).parent.parent / "data" / "fixtures" / name).read_text(encoding="utf-8"))
    return data | changes


def sample_record() -> list[dict[str, Any]]:
    """A patient, the encounter, two diagnoses (one SNOMED-only), coverage with its payer, the clinician."""
    subject = {"reference": "Patient/pat-1"}
    enc = {"reference": "Encounter/enc-1"}
    visit = {"start": "2026-11-02T09:00:00-05:00", "end": "2026-11-02T09:45:00-05:00"}
    snomed_only = fixture("condition.problem-list-item.us-core.json", id="cond-snomed", subject=subject)
    snomed_only["code"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "44054006"}],
        "text": "Diabetes",
    }
    return [
        fixture("patient.us-core-example.json", id="pat-1"),
        fixture("encounter.us-core-ambulatory-example-1.json", id="enc-1", subject=subject, period=visit),
        fixture(
            "condition.encounter-diagnosis.icd10cm.oracle-health.json",
            id="cond-icd",
            subject=subject,
            encounter=enc,
        ),
        snomed_only,
        fixture("coverage.us-core-example.json", id="cov-1", beneficiary=subject),
        fixture("organization.us-core-acme-payer.json"),
        fixture("practitioner.us-core-practitioner-1.json", id="p1"),
    ]


def launch_of(app: Flask, client: FlaskClient, handle: str) -> Launch:
    """The Launch a `/s/<handle>/` route would see, loaded with this browser's binding cookie."""
    cookie = client.get_cookie("smart_edu_bind")
    assert cookie is not None
    with app.test_request_context(f"/s/{handle}/", headers={"Cookie": f"smart_edu_bind={cookie.value}"}):
        found = load_launch(handle)
    assert isinstance(found, Launch), found
    return found


def add_probe_route(app: Flask) -> None:
    """A `/s/<handle>/probe` view that reads through the launch's client (independent of the real pages)."""

    @app.get("/s/<handle>/probe")
    @launch_required
    def probe(handle: str) -> dict[str, Any]:
        reads = read_launch_context(
            g.launch.fhir_client(),
            patient_id=g.launch.context.patient,
            encounter_id=g.launch.context.encounter,
            fhir_user=g.launch.context.fhir_user,
        )
        return {"round_trips": reads.round_trips, "used_batch": reads.used_batch, "handle": handle}
