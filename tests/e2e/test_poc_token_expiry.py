"""A draft survives the EHR token's expiry in a real Chromium: the access token ends and the EHR refuses to
refresh it while the clinician is typing; what they type next is still saved (the live check needs no token),
and after the relaunch the EHR asks for, the app offers the draft with everything typed before and after."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import DM_ENCOUNTER, DM_PATIENT, document_98960, open_app, settle, shot

pytestmark = pytest.mark.e2e
AFTER = "Large-print handouts; typed after the EHR token ended"


def test_a_draft_survives_the_tokens_expiry_without_refresh(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    frame = open_app(page, clean_sandbox, DM_PATIENT, DM_ENCOUNTER)
    document_98960(frame, page, minutes="30")
    settle(frame, "No diagnosis is linked")
    frame.locator("#poc-save-status").get_by_text("Draft saved").wait_for()

    clean_sandbox.fault(refuse_refresh=True)
    assert clean_sandbox.expire_access_tokens() >= 1
    frame.locator("#f-adaptations").fill(AFTER)
    with page.expect_response(
        lambda r: r.url.endswith("/evaluate") and "minutes=32" in (r.request.post_data or "")
    ) as saved:
        frame.locator("#f-minutes").fill("32")
    assert saved.value.status == 200  # saved and checked although the EHR token is dead
    settle(frame, "No diagnosis is linked")
    shot(page, "16-typing-after-token-expiry")
    app_frame = page.frame(name="app-frame")
    app_frame.goto(app_frame.url)  # the token really is dead: the page itself asks for a relaunch
    app_frame.get_by_text("Open the app again from your EHR").wait_for()

    clean_sandbox.clear_faults()
    page.goto("about:blank")
    frame = open_resume_offer(page, clean_sandbox)
    frame.get_by_role("button", name="Resume the draft").click()
    frame.locator("#f-minutes").wait_for()
    assert frame.locator("#f-minutes").input_value() == "32"
    assert frame.locator("#f-adaptations").input_value() == AFTER
    assert frame.get_by_role("checkbox", name="Healthy eating").is_checked()
    shot(page, "17-resumed-after-token-expiry")


def open_resume_offer(page: Any, sandbox: SandboxHandle) -> Any:
    page.goto(sandbox.ehr_launch_url(DM_PATIENT, encounter=DM_ENCOUNTER))
    frame = page.frame_locator("#app-frame")
    frame.get_by_text("You have an unsigned draft for this visit").wait_for()
    return frame
