"""The live check follows typing pauses, not keystrokes (smart_app/static/poc.js): a burst of keys sends ONE
check once typing pauses, and never two at the same time; the last thing typed is what the server keeps."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import ADCES, DM_ENCOUNTER, DM_PATIENT, open_app, settle

pytestmark = pytest.mark.e2e


def test_a_burst_of_typing_sends_one_check_after_the_pause(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    frame = open_app(page, clean_sandbox, DM_PATIENT, DM_ENCOUNTER)
    frame.locator("#f-code").select_option("98960")
    frame.locator("#f-curriculum").select_option(ADCES)
    frame.locator("#f-minutes").fill("10")
    settle(frame, "do not reach one unit")
    checks: list[str] = []
    page.on("request", lambda r: checks.append(r.post_data or "") if r.url.endswith("/evaluate") else None)
    response = frame.locator("#f-response")
    response.click()
    with page.expect_response(lambda r: r.url.endswith("/evaluate")):
        response.press_sequentially("Teach-back correct", delay=40)  # 18 keys, 40 ms apart: one burst
    page.wait_for_timeout(1000)  # longer than the debounce: any late check would have been sent by now
    assert len(checks) == 1, checks
    assert "Teach-back+correct" in checks[0]  # the whole burst, not a prefix

    checks.clear()
    minutes = frame.locator("#f-minutes")
    minutes.fill("")
    with page.expect_response(lambda r: r.url.endswith("/evaluate")):
        minutes.press_sequentially("25", delay=40)
    settle(frame, "98960")
    page.wait_for_timeout(1000)
    assert len(checks) == 1 and "minutes=25" in checks[0], checks
