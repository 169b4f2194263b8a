"""Findings are announced: the page's live region stays in place while the results are replaced (a region
inserted together with its text is not reliably read out), and each check writes its summary and its blocking
and warning findings there, in a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import DM_ENCOUNTER, DM_PATIENT, document_98960, open_app, settle

pytestmark = pytest.mark.e2e


def test_each_check_is_announced_from_a_live_region_that_outlives_the_results(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    frame = open_app(page, clean_sandbox, DM_PATIENT, DM_ENCOUNTER)
    region = frame.locator("#poc-announce").element_handle()
    assert region.get_attribute("aria-live") == "polite"
    assert region.evaluate("el => el.closest('#poc-results') === null")  # not inside what is replaced

    document_98960(frame, page, minutes="10")
    settle(frame, "do not reach one unit")
    frame.locator("#poc-announce").get_by_text("Signing a charge is blocked").wait_for(state="attached")
    blocked = region.text_content()
    minimum = frame.locator("#poc-results li.sev-block strong").first.inner_text()
    assert minimum in blocked

    frame.locator("#f-minutes").fill("20")
    frame.locator("#poc-results").get_by_text("do not reach one unit").wait_for(state="detached")
    frame.get_by_label("E11.9 — Type 2 diabetes mellitus without complications").check()
    settle(frame, "Ready to review and sign")
    frame.locator("#poc-announce").get_by_text("Ready to review and sign").wait_for(state="attached")
    assert region.evaluate("el => el.isConnected")  # the same node announced both
    assert minimum not in (region.text_content() or "")
    assert frame.locator("[aria-live], [role=status]").filter(has_text="Ready to review").count() == 1
