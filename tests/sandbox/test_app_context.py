"""The sandbox's CDS panel and the ``appContext`` of card launches (issue 7).

The sandbox and the app run in-process (Flask test clients); the sandbox's outbound calls to the app's CDS
services (and, in ``fhir`` mode, the app's reads of the sandbox's FHIR API) go through ``responses``, which
hands them to the other app's test client. So the cards are the app's real cards, and the feedback lands in
the app's real store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import ClientConfig, SandboxConfig
from smart_app.cds_hooks import store as cds_store
from smart_app.launches import db_of
from smart_app.writeback import audit
from tests.http.smart_kit import make_app

EHR = "http://ehr.test"
APP = "https://app.test"  # the app's SMART_EDU_BASE_URL in smart_kit.make_app
REDIRECT = f"{APP}/callback"
PATIENT, ENCOUNTER, USER = "edu-dm-commercial", "enc-dm-commercial-0302", "rn-okafor"
SCOPE = "launch openid fhirUser offline_access patient/*.rs"


@pytest.fixture(scope="module")
def sandbox() -> Flask:
    client = ClientConfig(
        "smart-edu", "public", [REDIRECT], f"{APP}/launch", cds_services_url=f"{APP}/cds-services"
    )
    return create_sandbox_app(SandboxConfig(base_url=EHR, clients=[client]))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    # its launch profile names the sandbox, as `demo` wires it: the CDS service reads only a profile's issuer
    return make_app(tmp_path_factory.mktemp("app"), iss=f"{EHR}/fhir")


@pytest.fixture
def ehr(sandbox: Flask) -> FlaskClient:
    sandbox.extensions["sandbox"].reset()
    return sandbox.test_client()


def _forward(client: FlaskClient) -> Callable[[Any], tuple[int, dict[str, str], bytes]]:
    """A `responses` callback that answers an outbound request with another Flask app's test client."""

    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(request.url)
        keep = ("Content-Type", "Authorization", "Accept")
        headers = {k: v for k, v in request.headers.items() if k in keep}
        path = url.path + (f"?{url.query}" if url.query else "")
        resp = client.open(path, method=request.method, data=request.body, headers=headers)
        return resp.status_code, {"Content-Type": resp.content_type}, resp.get_data()

    return answer


@pytest.fixture
def wired(app: Flask, sandbox: Flask) -> Iterator[responses.RequestsMock]:
    """Outbound HTTP of both apps answered by the other one."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for method in ("GET", "POST"):
            rsps.add_callback(
                method, re.compile(f"{APP}/cds-services.*"), callback=_forward(app.test_client())
            )
            rsps.add_callback(method, re.compile(f"{EHR}/fhir.*"), callback=_forward(sandbox.test_client()))
        yield rsps


def csrf(client: FlaskClient) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert m
    return m.group(1)


def run_hook(client: FlaskClient, hook: str = "patient-view", mode: str = "prefetch", **extra: str) -> str:
    """Choose the commercial diabetes patient on the launcher and run a hook; returns the panel's HTML."""
    form = {"csrf_token": csrf(client), "client_id": "smart-edu", "practitioner": "", "patient": PATIENT}
    form |= {"encounter": "", "hook": hook, "cds_mode": mode, **extra}
    resp = client.post("/cds", data=form)
    assert resp.status_code == 303, resp.text
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200
    return page.text


def panel_path(html: str) -> str:
    m = re.search(r'action="(/cds/[^"/]+)/open"', html)
    assert m, "the panel shows no smart link"
    return m.group(1)


def card_uuid(html: str) -> str:
    m = re.search(r'data-uuid="([^"]+)"', html)
    assert m, "no card on the panel"
    return m.group(1)


def open_card(client: FlaskClient, html: str) -> str:
    """Click the first card's smart link; returns the launch value of the EHR page's framed app."""
    resp = client.post(
        f"{panel_path(html)}/open", data={"csrf_token": csrf(client), "card": card_uuid(html), "link": "0"}
    )
    assert resp.status_code == 302, resp.text
    ehr_page = client.get(resp.headers["Location"]).text
    assert "Opened from a CDS card" in ehr_page
    src = re.search(r'id="app-frame"[^>]*src="([^"]+)"', ehr_page)
    assert src
    query = parse_qs(urlsplit(src.group(1).replace("&amp;", "&")).query)
    assert src.group(1).startswith(f"{APP}/launch") and query["iss"] == [f"{EHR}/fhir"]
    return query["launch"][0]


def token_for(client: FlaskClient, launch: str) -> dict[str, Any]:
    """Authorize (EHR launch, PKCE) and exchange the code, as the app would."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    auth = client.get(
        "/auth/authorize",
        query_string={
            "response_type": "code", "client_id": "smart-edu", "redirect_uri": REDIRECT, "scope": SCOPE,
            "state": "s1", "aud": f"{EHR}/fhir", "launch": launch, "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )  # fmt: skip
    assert auth.status_code == 302, auth.text
    code = parse_qs(urlsplit(auth.headers["Location"]).query)["code"][0]
    resp = client.post(
        "/auth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "code_verifier": verifier, "client_id": "smart-edu"},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    return dict(resp.json or {})


def test_patient_view_shows_the_apps_card_and_a_card_launch_carries_its_appContext(
    ehr: FlaskClient, wired: responses.RequestsMock
) -> None:
    html = run_hook(ehr)
    assert "Source: Patient Education Billing Checker" in html and "98960" in html
    sent = json.loads(next(c.request.body for c in wired.calls if c.request.url.endswith("/patient-view")))
    assert sent["context"] == {
        "userId": f"Practitioner/{USER}",
        "patientId": PATIENT,
        "encounterId": ENCOUNTER,
    }
    assert sent["prefetch"]["patient"]["id"] == PATIENT and sent["prefetch"]["conditions"]["entry"]
    assert not [c for c in wired.calls if "/fhir" in c.request.url]  # everything was prefetched
    token = token_for(ehr, open_card(ehr, html))
    context = json.loads(token["appContext"])
    assert (
        context["code"] == "98960" and context["patientId"] == PATIENT and context["hook"] == "patient-view"
    )
    assert token["patient"] == PATIENT and token["encounter"] == ENCOUNTER
    refreshed = ehr.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": "smart-edu",
        },
    )
    assert refreshed.status_code == 200 and "appContext" not in (refreshed.json or {})


def test_an_ordinary_launch_has_no_appContext(ehr: FlaskClient) -> None:
    resp = ehr.get(
        "/launcher",
        query_string={"client_id": "smart-edu", "practitioner": USER, "patient": PATIENT, "frame": "0"},
    )
    launch = parse_qs(urlsplit(resp.headers["Location"]).query)["launch"][0]
    token = token_for(ehr, launch)
    assert token["patient"] == PATIENT and "appContext" not in token


def test_without_prefetch_the_service_reads_fhirServer_with_a_short_read_only_token(
    ehr: FlaskClient, wired: responses.RequestsMock, sandbox: Flask
) -> None:
    html = run_hook(ehr, "encounter-start", mode="fhir")
    sent = json.loads(next(c.request.body for c in wired.calls if c.request.url.endswith("/encounter-start")))
    assert "prefetch" not in sent and sent["fhirServer"] == f"{EHR}/fhir"
    assert sent["fhirAuthorization"]["expires_in"] == 300
    assert all(
        s.startswith("user/") and s.endswith(".rs") for s in sent["fhirAuthorization"]["scope"].split()
    )
    reads = [c.request for c in wired.calls if "/fhir" in c.request.url]
    assert reads and all(r.headers["Authorization"].startswith("Bearer ") for r in reads)
    assert [t.grant_type for t in sandbox.extensions["sandbox"].tokens.issued()] == ["cds-hooks"]
    assert "98960" in html and card_uuid(html)


def test_dismissing_a_card_with_a_reason_is_recorded_by_the_app(
    ehr: FlaskClient, wired: responses.RequestsMock, app: Flask
) -> None:
    html = run_hook(ehr)
    uuid = card_uuid(html)
    reason = re.search(r'<select id="reason-1" name="reason">\s*<option value="([^"]+)"', html)
    assert reason
    resp = ehr.post(
        f"{panel_path(html)}/dismiss",
        data={"csrf_token": csrf(ehr), "card": uuid, "reason": reason.group(1), "comment": "already taught"},
    )
    assert resp.status_code == 303
    after = ehr.get(resp.headers["Location"]).text
    assert "feedback sent, recorded: 1" in after
    rows = audit.entries(db_of(app), write_key=f"cds:{uuid}")
    assert rows and rows[0]["action"] == "cds-feedback" and rows[0]["patient_id"] == PATIENT
    assert cds_store.feedback_summary(db_of(app))["patient-view"]["overridden"] >= 1


def crafted_card(**over: Any) -> dict[str, Any]:
    card = {
        "uuid": "c-1",
        "summary": "Crafted card",
        "indicator": "warning",
        "source": {"label": "Someone else <b>"},
        "detail": "**bold** <script>alert(1)</script> [bad](javascript:alert(1)) [ok](https://ok.test/)\n\n"
        '<img src="x" onerror="alert(2)">',
        "links": [{"label": "Open", "url": "https://evil.test/launch", "type": "smart", "appContext": "{}"}],
        "overrideReasons": [{"code": "r1", "system": "urn:x", "display": "Not relevant"}],
    }
    return card | over


def test_card_markdown_is_rendered_safely_and_foreign_launch_urls_are_refused(ehr: FlaskClient) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{APP}/cds-services", json={"services": [{"id": "pv", "hook": "patient-view", "prefetch": {}}]}
        )
        rsps.post(f"{APP}/cds-services/pv", json={"cards": [crafted_card(), {"summary": "no uuid"}]})
        html = run_hook(ehr)
    assert "<strong>bold</strong>" in html and '<a href="https://ok.test/">ok</a>' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and "[bad](javascript:alert(1))" in html  # shown as text
    assert "<img" not in html and "Someone else &lt;b&gt;" in html
    assert html.count("data-uuid=") == 1  # the card without uuid/source is not shown
    resp = ehr.post(f"{panel_path(html)}/open", data={"csrf_token": csrf(ehr), "card": "c-1", "link": "0"})
    assert resp.status_code == 400


def test_a_failing_service_is_shown_and_the_panel_needs_csrf(ehr: FlaskClient) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{APP}/cds-services", status=503, body="down")
        html = run_hook(ehr)
    assert 'id="cds-error"' in html and "HTTP 503" in html
    resp = ehr.post("/cds", data={"client_id": "smart-edu", "patient": PATIENT, "hook": "patient-view"})
    assert resp.status_code == 400


def test_the_launcher_offers_the_panel(ehr: FlaskClient) -> None:
    html = ehr.get("/").text
    for hook in ("patient-view", "encounter-start", "encounter-discharge"):
        assert f'id="cds-{hook}"' in html
    assert "<script" not in html
