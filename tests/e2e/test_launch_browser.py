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
    assert "2 Mar 2026" in body  # the encounter date as the clinician reads it
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


def test_standalone_launch_opens_a_new_window_with_the_login_and_patient_picker(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.launcher_url)
    with page.expect_popup() as popup_info:
        page.click("#launch-standalone")
    popup = popup_info.value
    popup.wait_for_url(re.compile(r"/auth/authorize"))
    assert "development only" in popup.locator(".devbar").inner_text().lower()
    popup.select_option("#practitioner", "pt-rivera")
    popup.select_option("#patient", "edu-knee-medicare")
    popup.click("#sign-in")
    popup.wait_for_url(re.compile(re.escape(app_server.base_url) + r"/s/"))
    popup.get_by_text("Harold Jensen").first.wait_for()
    body = popup.locator("body").inner_text()
    assert "Dana Rivera" in body and "Medicare" in body
    assert page.url == clean_sandbox.launcher_url  # the launcher stays where it was


def _reload_app_frame(page: Any) -> Any:
    frame = page.frame(name="app-frame")
    assert frame is not None
    frame.goto(frame.url)
    return frame


def test_expired_access_token_is_refreshed_without_the_user_noticing(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.ehr_launch_url("edu-dm-commercial", encounter="enc-dm-commercial-0302"))
    _app_frame(page).get_by_text("Diabetes education visit").wait_for()
    assert clean_sandbox.tokens_issued("refresh_token") == 0
    assert clean_sandbox.expire_access_tokens() == 1

    frame = _reload_app_frame(page)
    frame.get_by_text("Diabetes education visit").wait_for()
    assert clean_sandbox.tokens_issued("refresh_token") == 1
    assert "session has ended" not in frame.locator("body").inner_text()


def test_refused_refresh_asks_the_user_to_relaunch(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.ehr_launch_url("edu-dm-commercial", encounter="enc-dm-commercial-0302"))
    _app_frame(page).get_by_text("Diabetes education visit").wait_for()
    clean_sandbox.fault(refuse_refresh=True)
    clean_sandbox.expire_access_tokens()

    frame = _reload_app_frame(page)
    frame.get_by_text("Open the app again from your EHR").wait_for()
    assert "Your EHR session has ended" in frame.locator("body").inner_text()
    assert clean_sandbox.tokens_issued("refresh_token") == 0
