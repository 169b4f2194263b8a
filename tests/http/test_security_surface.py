"""Attacks on the app's surface: CSRF on every unsafe route, response headers, server-side fetches driven by
input (style URL, CDS fhirServer, Bundle links, redirects), CORS, logs and error pages."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask

from smart_app.commands.serve import gunicorn_options
from smart_app.fhir_client import FhirClient, FhirError
from smart_app.point_of_care import style
from smart_app.security import csrf_token
from tests.http.smart_kit import ISS, FakeFhir, id_token, launch_to_handle, make_app, sample_record

CDS_ROUTES = {"/cds-services/<service_id>", "/cds-services/<service_id>/feedback"}  # JWT, not cookies
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = (ROOT / "templates", ROOT / "smart_app" / "point_of_care" / "templates")


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    style.forget()
    return make_app(tmp_path)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def unsafe_rules(app: Flask) -> list[tuple[str, str]]:
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) & UNSAFE
    )


def test_every_unsafe_route_is_either_csrf_checked_or_a_jwt_authenticated_cds_endpoint(app: Flask) -> None:
    rules = unsafe_rules(app)
    assert rules, "the app has forms"
    outside = {rule for rule, _ in rules if not rule.startswith("/s/<handle>/")}
    assert outside == CDS_ROUTES  # a new unsafe route outside /s/ needs its own CSRF or JWT check


def fill(rule: str, handle: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: handle if m.group(1) == "handle" else "d-1", rule)


def test_every_unsafe_launch_route_refuses_a_missing_or_foreign_csrf_token(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    other = launch_to_handle(client, rsps, patient="pat-2")
    cookie = client.get_cookie("smart_edu_bind")
    assert cookie is not None
    with app.test_request_context(f"/s/{other}/", headers={"Cookie": f"smart_edu_bind={cookie.value}"}):
        foreign = csrf_token()  # valid for the other launch in the same browser, not for this one
    calls = len(rsps.calls)
    for rule, method in unsafe_rules(app):
        if rule in CDS_ROUTES:
            continue
        url = fill(rule, handle)
        for sent in ({}, {"csrf_token": ""}, {"csrf_token": foreign}, {"csrf_token": "x" * 64}):
            resp = client.open(url, method=method, data={**sent, "draft_id": "d-1", "note": "n"})
            assert resp.status_code == 400, (rule, method, sent, resp.status_code)
        resp = client.open(url, method=method, headers={"X-CSRF-Token": foreign})
        assert resp.status_code == 400, (rule, method, "header")
    assert len(rsps.calls) == calls  # nothing reached the EHR


def test_launch_pages_and_json_apis_are_never_cached_or_sniffed(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    client = app.test_client()
    handle = launch_to_handle(client, rsps)
    for path in (f"/s/{handle}/icd10?q=diab", f"/s/{handle}/style.css", f"/s/{handle}/review", "/callback"):
        resp = client.get(path)
        assert resp.headers["Cache-Control"] == "no-store", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["Referrer-Policy"] == "no-referrer", path


def test_the_csp_allows_no_inline_code_and_only_the_ehr_as_framer(app: Flask) -> None:
    csp = app.test_client().get("/healthz").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["frame-ancestors"] == "'self' https://ehr.test"
    assert "unsafe" not in csp and "*" not in csp


def test_templates_have_no_inline_script_style_or_unescaped_output() -> None:
    paths = [path for folder in TEMPLATES for path in folder.rglob("*.html")]
    assert any("point_of_care" in str(p) for p in paths), "the point-of-care templates are scanned"
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "|safe" not in text and "autoescape false" not in text, path
        if (
            path.parent.name == "scrub"
        ):  # a standalone file, never served: its own style and script are inline,
            continue  # allowed by hash in its CSP meta tag (tests/unit/test_scrub_html.py checks the hashes)
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), path


def test_style_url_on_another_host_is_never_fetched(app: Flask, rsps: responses.RequestsMock) -> None:
    client = app.test_client()
    for url in ("http://169.254.169.254/latest/meta-data/", "https://ehr.test@evil.test/s.json"):
        handle = launch_to_handle(client, rsps, smart_style_url=url)
        resp = client.get(f"/s/{handle}/style.css")
        assert resp.status_code == 200 and "--poc" not in resp.get_data(as_text=True)
    assert not any("169.254" in str(c.request.url) or "evil" in str(c.request.url) for c in rsps.calls)


def cds_request(server: str) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": "h-1",
        "context": {"userId": "Practitioner/p1", "patientId": "pat-1"},
        "fhirServer": server,
        "fhirAuthorization": {"access_token": "HOOK-SECRET", "token_type": "Bearer", "expires_in": 300,
                              "scope": "patient/*.read", "subject": "cds"},
    }  # fmt: skip


@pytest.mark.parametrize(
    "server", ["http://127.0.0.1:9/admin", "https://ehr.test.evil.test/fhir", "https://ehr.test/fhir-other"]
)
def test_cds_never_reads_a_fhir_server_that_is_not_a_configured_issuer(
    app: Flask, rsps: responses.RequestsMock, server: str
) -> None:
    resp = app.test_client().post("/cds-services/patient-view", json=cds_request(server))
    assert resp.status_code == 412 and "not the issuer of a launch profile" in resp.get_json()["error"]
    assert len(rsps.calls) == 0


def test_cds_reads_a_configured_issuer_with_the_hook_token(app: Flask, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{ISS}/", json={"resourceType": "Bundle", "type": "batch-response", "entry": []})
    app.test_client().post("/cds-services/patient-view", json=cds_request(ISS + "/"))
    assert [c.request.url for c in rsps.calls] == [f"{ISS}/"]
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer HOOK-SECRET"


def test_cds_cors_never_allows_credentials(app: Flask) -> None:
    resp = app.test_client().options("/cds-services/patient-view", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert resp.headers.get("Access-Control-Allow-Origin") in (None, "*")


@pytest.mark.parametrize(
    "link", ["https://evil.test/fhir/Condition?p=2", "//evil.test/fhir/Condition", "https://ehr.test/fhirx/C"]
)
def test_a_next_link_to_another_server_never_gets_the_token(rsps: responses.RequestsMock, link: str) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": [{"relation": "next", "url": link}]}
    rsps.get(f"{ISS}/Condition", json=bundle)
    client = FhirClient(ISS, token_provider=lambda: "AT-SECRET")
    with pytest.raises(FhirError, match="another server"):
        client.search("Condition", {"patient": "p"})
    assert len(rsps.calls) == 1


def test_a_redirect_to_another_host_drops_the_bearer_token(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{ISS}/Patient/p", status=302, headers={"Location": "https://evil.test/Patient/p"})
    rsps.get("https://evil.test/Patient/p", json={"resourceType": "Patient", "id": "p"})
    FhirClient(ISS, token_provider=lambda: "AT-SECRET").read("Patient", "p")
    assert "Authorization" not in rsps.calls[-1].request.headers


def test_the_access_log_drops_query_strings_and_secret_headers() -> None:
    args = argparse.Namespace(host="127.0.0.1", port=8000, workers=1)
    fmt = gunicorn_options(args)["access_log_format"]
    assert not re.search(r"%\((r|q|u|a|f)\)s|\{[^}]*\}[ioe]", fmt)  # request line, query, user, headers, env


def test_an_unexpected_error_shows_no_trace_or_patient_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path)
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("Patient Jane Doe token AT-SECRET")

    caplog.set_level(logging.ERROR)
    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "Jane" not in body and "Traceback" not in body and "AT-SECRET" not in body
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "https://ehr.test/fhir/../admin/x",
        "https://ehr.test/fhir/%2e%2e/admin",
        "Patient/../../admin",
        "./x/../../y",
    ],
)
def test_dot_segments_never_take_the_token_outside_the_fhir_base(
    rsps: responses.RequestsMock, path: str
) -> None:
    client = FhirClient(ISS, token_provider=lambda: "AT-SECRET")
    with pytest.raises(FhirError, match="another server"):
        client.request("GET", path)
    assert len(rsps.calls) == 0


def test_an_oversized_body_is_refused_before_it_is_read(app: Flask) -> None:
    big = b'{"hook": "patient-view", "pad": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    resp = app.test_client().post("/cds-services/patient-view", data=big, content_type="application/json")
    assert resp.status_code == 413


def test_no_page_of_a_launch_shows_a_token_or_the_code_and_no_log_line_holds_one(
    app: Flask, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    FakeFhir(sample_record()).install(rsps)
    client = app.test_client()
    handle = launch_to_handle(client, rsps, access_token="SECRET-AT", refresh_token="SECRET-RT")
    secrets = [b"SECRET-", b"code-1", id_token().split(".")[0].encode()]
    gets = [r.rule for r in app.url_map.iter_rules() if "GET" in (r.methods or set())]
    for rule in gets:
        if rule.startswith("/s/<handle>/"):
            resp = client.get(fill(rule, handle) + "?q=diab")
            seen = resp.get_data() + str(resp.headers).encode()
            assert not any(s in seen for s in secrets), rule
    assert "SECRET-" not in caplog.text and "code-1" not in caplog.text
