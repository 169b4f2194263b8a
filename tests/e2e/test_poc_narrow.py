"""The point-of-care pages in a 400 px wide EHR window (the app's frame is narrower still): the form, the
review with its charge-line table and a duplicate warning naming long ChargeItem references, and the result
page never push the page sideways. A fieldset's default min-width and unbreakable references used to.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import DM_ENCOUNTER, DM_PATIENT, document_98960, open_app, settle

pytestmark = pytest.mark.e2e

OVERFLOW = "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"


def overflow(page: Any) -> int:
    """How many pixels the app's own document is wider than its frame, once its stylesheets have loaded (the
    text a test waits for can be in the DOM before them: measured then, the unstyled page overflows)."""
    app_frame = page.frame(name="app-frame")
    app_frame.wait_for_load_state("load")
    return int(app_frame.evaluate(OVERFLOW))


def sign(frame: Any) -> None:
    for n in range(frame.locator("input[name^='ack_']").count()):
        frame.locator(f"#ack-{n}").check()
        frame.locator(f"#reason-{n}").fill("Second session the same day")
    frame.get_by_role("button", name="Sign and send to the EHR").click()
    frame.get_by_text("Signed and written").wait_for()


def test_nothing_is_wider_than_a_400_px_frame(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.set_viewport_size({"width": 400, "height": 900})
    for attempt in range(2):  # the second signature meets the duplicate warning with the first charge's id
        frame = open_app(page, clean_sandbox, DM_PATIENT, DM_ENCOUNTER)
        assert overflow(page) <= 0
        document_98960(frame, page, minutes="35")
        frame.get_by_label(re.compile(r"^E11\.9")).check()
        settle(frame, "Ready to review and sign")
        frame.get_by_role("button", name="Review and sign").click()
        frame.locator("#f-note").wait_for()
        if attempt == 1:
            assert "ChargeItem/" in frame.locator("fieldset.sev-warn legend").first.inner_text()
        assert overflow(page) <= 0
        sign(frame)
        assert overflow(page) <= 0
