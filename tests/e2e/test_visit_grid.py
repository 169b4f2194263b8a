"""The visit grid in a real Chromium, framed by the sandbox EHR: a Medicare PT visit of three timed services,
one furnished by an assistant, checked live as one visit (the CMS total-minutes allocation shown per row, the
rule one click away), rows added and removed by mouse and by keyboard, the no-JavaScript form, 400 px, axe.

Screenshots of the main states go to docs/img/ (small PNGs referenced by docs/clinician-page.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import axe_violations

pytestmark = pytest.mark.e2e

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PATIENT, ENCOUNTER = "edu-knee-medicare", "enc-knee-medicare-0223"
PT, PTA = "pt-rivera", "pta-cho"


def doc_shot(page: Any, name: str) -> None:
    """A screenshot of the app's frame for the docs (the frame fills the viewport below the EHR's banner)."""
    DOCS_IMG.mkdir(exist_ok=True)
    page.locator("#app-frame").screenshot(path=str(DOCS_IMG / f"{name}.png"))


def open_visit(page: Any, sandbox: SandboxHandle, practitioner: str = PT) -> Any:
    page.goto(sandbox.ehr_launch_url(PATIENT, encounter=ENCOUNTER, practitioner=practitioner))
    frame = page.frame_locator("#app-frame")
    fresh = frame.get_by_role("button", name="Discard it and start afresh")
    frame.locator("#f-code-search").or_(fresh).wait_for()
    if fresh.count():
        fresh.click()
        frame.locator("#f-code-search").wait_for()
    return frame


def pick(frame: Any, row: int, query: str, code: str) -> None:
    """Type into the row's code combobox and choose the option for ``code``."""
    box = frame.locator(f"#f-{'code' if row == 0 else f's{row}_code'}-search")
    box.fill(query)
    frame.get_by_role("option", name=re.compile(rf"^{code} ")).click()


def minutes(frame: Any, row: int) -> Any:
    return frame.locator(f"#f-{'minutes' if row == 0 else f's{row}_minutes'}")


def settled(frame: Any, text: str) -> None:
    frame.locator("#visit-allocation").get_by_text(text).wait_for()


def add_row(frame: Any, row: int) -> None:
    frame.get_by_role("button", name="Add a service").click()
    frame.locator(f"#f-s{row}_code-search").wait_for()


def test_a_medicare_pt_visit_of_three_timed_services_is_checked_as_one_visit(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.set_viewport_size({"width": 1280, "height": 1500})
    frame = open_visit(page, clean_sandbox)
    assert frame.get_by_role("heading", level=1).inner_text() == "Document the visit"
    pick(frame, 0, "strength exercise", "97110")
    frame.get_by_role("heading", name="Document the therapy visit").wait_for()
    minutes(frame, 0).fill("33")
    add_row(frame, 1)
    pick(frame, 1, "97112", "97112")
    minutes(frame, 1).fill("24")
    frame.locator("#f-s1_furnished_by").select_option("assistant")
    add_row(frame, 2)
    pick(frame, 2, "hands-on", "97140")
    minutes(frame, 2).fill("7")
    frame.get_by_role("checkbox", name=re.compile("M17")).first.check()
    frame.locator("#f-plan_of_care_certified").select_option("yes")
    settled(frame, "64 timed minutes: 97110 × 2, 97112 × 2, 97140 × 0")
    rows = frame.locator(".svc-row")
    rows.nth(0).get_by_text("Bills 97110 × 2 (GP)").wait_for()
    rows.nth(1).get_by_text("Bills 97112 × 2 (GP, CQ)").wait_for()
    rows.nth(2).get_by_text("No charge line of its own").wait_for()
    rows.nth(2).get_by_text("Why").click()
    rows.nth(2).get_by_text(re.compile("Medicare's total-minutes rule")).wait_for()
    results = frame.locator("#poc-results").inner_text()
    assert not re.search(r"\b[a-z]+\.[a-z-]+\b", results.replace("e.g.", "")), results  # no rule id shown
    doc_shot(page, "visit-grid")
    assert axe_violations(page) == []

    frame.get_by_role("button", name="Remove service 3 (97140)").click()
    frame.locator("#f-s2_code-search").wait_for(state="detached")
    settled(frame, "57 timed minutes: 97110 × 2, 97112 × 2")
    assert frame.locator(".svc-row").count() == 2
