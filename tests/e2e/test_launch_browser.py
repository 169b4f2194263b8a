"""End-to-end launches in a real Chromium: launcher page → EHR page (localhost) framing the app (127.0.0.1),
i.e. a cross-site iframe, through the real OAuth flow of the sandbox."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import AppHandle, SandboxHandle

pytestmark = pytest.mark.e2e


def _app_frame(page: Any) -> Any:
    return page.frame_locator("#app-frame")


def test_ehr_launch_from_launcher_page_frames_the_app_for_the_chosen_patient(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.launcher_url)
    page.select_option("#patient", "edu-dm-commercial")
    page.select_option("#practitioner", "rn-okafor")
    page.select_option("#encounter", "enc-dm-commercial-0302")
    page.click("#launch-ehr")

    page.wait_for_url(re.compile(r"/ehr/"))
    assert page.url.startswith(clean_sandbox.base_url)
    assert page.text_content("#banner-patient") == "Carmen Delgado"
    frame = _app_frame(page)
    frame.get_by_text("Diabetes education visit").wait_for()
    app_frame = page.frame(name="app-frame")
    assert app_frame is not None and app_frame.url.startswith(app_server.base_url)
    body = frame.locator("body").inner_text()
    assert "2026-03-02" in body
    assert "Grace Okafor" in body
    assert "commercial" in body.lower()


def test_ehr_page_shows_a_name_full_of_html_as_text(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.ehr_launch_url("edu-html-name", encounter="enc-html-name-0320"))
    banner = page.locator("#banner-patient")
    assert banner.inner_text() == '<b>Robert</b> "Bobby" O\'Neil & <script>'
    assert banner.locator("b, script").count() == 0
    _app_frame(page).get_by_text("Nurse education visit").wait_for()
