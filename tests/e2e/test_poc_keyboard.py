"""The page in a 400 px window, used from the keyboard alone (for the seeded patient whose name is full of
HTML; the HTTP tests check that it is escaped)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import AXE, shot

pytestmark = pytest.mark.e2e


def tab_to(page: Any, element_id: str, limit: int = 40) -> None:
    """Press Tab until the control has focus (fails if the keyboard cannot reach it)."""
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def test_keyboard_only_in_a_400px_window(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.set_viewport_size({"width": 400, "height": 900})
    page.goto(clean_sandbox.ehr_launch_url("edu-html-name", encounter="enc-html-name-0320", frame=False))
    page.locator("#f-code").wait_for()
    assert page.locator("#poc-form b, #poc-form script").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 400

    tab_to(page, "f-code-search")  # the code picker: a combobox searched by number or words
    page.keyboard.type("98960")
    page.keyboard.press("Enter")
    tab_to(page, "f-minutes")
    page.keyboard.type("20")
    tab_to(page, "f-curriculum")
    page.keyboard.type("ADCES7")
    page.locator("#poc-results").get_by_text("98960").first.wait_for()
    assert page.locator("#f-minutes").input_value() == "20"
    page.locator("#poc-save-status").get_by_text("Draft saved").wait_for()
    link = page.locator("#poc-results a[data-focus]").first
    target = link.get_attribute("data-focus")
    link.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == target
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    shot(page, "13-keyboard-400px")

    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
