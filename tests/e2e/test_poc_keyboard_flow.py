"""The whole flow by keyboard alone, in a real Chromium: choose the service, type the minutes and curriculum,
link the diagnosis, open the review, acknowledge any warning with a reason, sign, and read the result; no
mouse click anywhere (Tab, Space, Enter and typing only)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import DM_ENCOUNTER, DM_PATIENT, shot

pytestmark = pytest.mark.e2e


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches ``selector`` (fails if the keyboard cannot reach it)."""
    for _ in range(limit):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_document_review_and_sign_with_the_keyboard_alone(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.ehr_launch_url(DM_PATIENT, encounter=DM_ENCOUNTER, frame=False))
    discard = page.get_by_role("button", name="Discard it and start afresh")
    page.locator("#f-code").or_(discard).wait_for()
    if discard.count():  # another test left a draft for the same visit
        tab_to(page, "button[value=discard]")
        page.keyboard.press("Enter")
        page.locator("#f-code").wait_for()

    assert document_and_sign(page) == 0
    shot(page, "18-keyboard-signed")
    assert len(clean_sandbox.resources(f"ChargeItem?patient={DM_PATIENT}")) == 1
    again = page.get_by_role("link", name="Document another service").get_attribute("href")
    tab_to(page, f"a[href='{again}']")
    page.keyboard.press("Enter")
    page.locator("#f-code").wait_for()
    assert document_and_sign(page) >= 1  # the second session's duplicate.charge warning, ticked by keyboard
    assert len(clean_sandbox.resources(f"ChargeItem?patient={DM_PATIENT}")) == 2


def document_and_sign(page: Any) -> int:
    """Document a 98960 session, review and sign it by keyboard; returns how many warnings it acknowledged."""
    tab_to(page, "#f-code-search")  # the code picker: a combobox searched by number or words
    page.keyboard.type("98960")
    page.keyboard.press("Enter")
    tab_to(page, "#f-minutes")
    page.keyboard.type("25")
    tab_to(page, "#f-curriculum")
    page.keyboard.type("ADCES7")
    for topic in ("Healthy eating", "Monitoring"):
        box = page.get_by_role("checkbox", name=topic).get_attribute("id")
        tab_to(page, f"#{box}")
        page.keyboard.press("Space")
    dx = page.get_by_label("E11.9 — Type 2 diabetes mellitus without complications").get_attribute("id")
    tab_to(page, f"#{dx}")
    page.keyboard.press("Space")
    page.locator("#poc-results").get_by_text("Ready to review and sign").first.wait_for()
    page.locator("#poc-save-status").get_by_text("Draft saved").wait_for()

    tab_to(page, "#poc-results button[value=review]")
    page.keyboard.press("Enter")
    page.locator("#f-note").wait_for()
    acks = page.locator("input[name^='ack_']").count()
    for n in range(acks):
        tab_to(page, f"#ack-{n}")
        page.keyboard.press("Space")
        tab_to(page, f"#reason-{n}")
        page.keyboard.type("Reviewed with the billing lead")
    tab_to(page, "#sign-button")
    page.keyboard.press("Enter")
    page.get_by_text("Signed and written").wait_for()
    return int(acks)
