"""The launch's first page (issue 2): a banner only when the EHR asks; "unknown" where the EHR was silent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from flask import Flask

from smart_app.reads import forget_capabilities
from tests.http.smart_kit import FakeFhir, fixture, launch_to_handle, make_app, sample_record


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    forget_capabilities()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def first_page(app: Flask, rsps: responses.RequestsMock, resources: list[dict], **token: object) -> str:
    FakeFhir(resources).install(rsps)
    client = app.test_client()
    handle = launch_to_handle(client, rsps, **token)
    page = client.get(f"/s/{handle}/")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def fact(html: str, label: str) -> str:
    """The text of the ``<dd>`` after ``<dt>label</dt>``, tags removed."""
    found = re.search(rf"<dt>{label}</dt>\s*<dd>(.*?)</dd>", html, re.S)
    assert found, label
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_the_banner_shows_only_when_the_ehr_asks_for_it(app: Flask, rsps: responses.RequestsMock) -> None:
    shown = first_page(app, rsps, sample_record(), need_patient_banner=True)
    assert re.search(r'<section class="banner" aria-label="Patient">\s*<span class="name">[^<]*Baxter', shown)
    hidden = first_page(app, rsps, sample_record(), need_patient_banner=False)
    assert 'aria-label="Patient"' not in hidden


def test_what_the_ehr_did_not_say_is_marked_unknown(app: Flask, rsps: responses.RequestsMock) -> None:
    """No encounter in the context, no Coverage, a clinician the server does not know: each says "unknown"."""
    patient_only = [fixture("patient.us-core-example.json", id="pat-1")]
    html = first_page(app, rsps, patient_only, encounter=None)
    assert fact(html, "Encounter").startswith("unknown")
    assert fact(html, "Payer class").strip() == "unknown"
    assert fact(html, "Your role").strip() == "unknown"


def test_what_the_ehr_said_is_shown_not_unknown(app: Flask, rsps: responses.RequestsMock) -> None:
    html = first_page(app, rsps, sample_record())
    assert "unknown" not in fact(html, "Encounter")
    assert fact(html, "Payer class").strip() != "unknown"
