"""The clinician's page names where a finding and an estimate come from, with links that leave the EHR frame
safely (new tab, no referrer, no opener) and the [UNVERIFIED] tag kept visible."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from smart_app.point_of_care import context, style
from tests.http.document_kit import FakeEhr, app_for, commercial_diabetes, csrf_of, launched

ADCES = "ADCES7 Self-Care Behaviors (diabetes self-management education)"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    style.forget()
    return app_for(tmp_path)


def checked_html(app: Flask, rsps: Any, **form: str) -> str:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    token = csrf_of(client.get(f"/s/{handle}/").get_data(as_text=True))
    data: dict[str, Any] = {"code": "98960", "minutes": "20", "dx": "E11.9", "curriculum": ADCES}
    data["provider_role"] = "RN"
    data |= {"topic": ["Healthy eating"], "patient_present": "yes"} | form
    resp = client.post(f"/s/{handle}/evaluate", data=data, headers={"X-CSRF-Token": token})
    assert resp.status_code == 200
    body = resp.get_json()
    assert isinstance(body, dict)
    return str(body["html"])


def test_the_estimate_reads_as_an_orientation_range_with_its_source_links(app: Flask, rsps: Any) -> None:
    html = checked_html(app, rsps)
    assert "98960 (2025-2026; checked 2026-11-01): Orientation range for commercial plans" in html
    assert "replace with your fee schedule" in html
    link = re.search(r'<a href="https://whatismedicalinsurancebilling\.org/[^"]+"([^>]*)>([^<]+)</a>', html)
    assert link is not None, html
    assert 'target="_blank"' in link.group(1) and 'rel="noreferrer noopener"' in link.group(1)
    assert link.group(2) == "whatismedicalinsurancebilling.org"


def test_each_finding_has_its_source_behind_a_disclosure(app: Flask, rsps: Any) -> None:
    html = checked_html(app, rsps, mode="video", location="home")
    (pos,) = re.findall(
        r'<li class="finding sev-info">(?:(?!</li>).)*?telehealth\.place-of-service.*?</li>', html, flags=re.S
    )
    assert '<details class="finding-source"><summary>Source</summary>' in pos
    assert "see docs/reference/billing-rules.md §9" in pos
    assert 'href="https://www.ngsmedicare.com/web/ngs/news-article-details?selectedArticleId=10638446"' in pos


def test_a_finding_on_an_unverified_value_says_so_in_its_summary(app: Flask, rsps: Any) -> None:
    html = checked_html(app, rsps, mode="video", location="home", payer_class="medicare")
    (telehealth,) = re.findall(
        r'<li class="finding sev-block">(?:(?!</li>).)*?telehealth\.not-covered.*?</li>', html, flags=re.S
    )
    assert "<summary>Source (unverified value)</summary>" in telehealth
    assert "CY 2026 membership [UNVERIFIED]" in telehealth
