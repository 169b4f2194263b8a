"""The visit grid in a real Chromium, framed by the sandbox EHR: a Medicare PT visit of three timed services,
one furnished by an assistant, checked live as one visit (the CMS total-minutes allocation shown per row, the
rule one click away), rows added and removed by mouse and by keyboard, the no-JavaScript form, 400 px, axe.

Screenshots of the main states go to test-artifacts/docs-img/ (git-ignored); docs/clinician-page.md shows
copies of them in docs/img/ (copied by hand when the page's look changes: a test run never edits the repo).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, AppHandle, SandboxHandle
from tests.e2e.test_poc_document import axe_violations

pytestmark = pytest.mark.e2e

DOCS_IMG = ARTIFACTS / "docs-img"
PATIENT, ENCOUNTER = "edu-knee-medicare", "enc-knee-medicare-0223"
PT, PTA = "pt-rivera", "pta-cho"


def doc_shot(page: Any, name: str) -> None:
    """A screenshot of the app's frame for the docs (the frame fills the viewport below the EHR's banner)."""
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
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
    frame.locator("#poc-results").get_by_text("No diagnosis is linked").wait_for()
    assert "Charge lines" not in frame.locator("#poc-results").inner_text()  # blocked: no lines, no estimate
    frame.locator(".svc-row").nth(0).get_by_text("Not billable").wait_for()
    doc_shot(page, "visit-blocked")
    assert axe_violations(page) == []
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


def document_visit(frame: Any, *, times: bool = False) -> None:
    """97110 33 min + 97112 24 min by the PTA + 97140 7 min, M17.11 linked, plan of care certified."""
    spans = {0: ("09:00", "09:33"), 1: ("09:33", "09:57"), 2: ("09:57", "10:04")}
    for row, (query, code, mins) in enumerate(
        [("strength exercise", "97110", "33"), ("97112", "97112", "24"), ("hands-on", "97140", "7")]
    ):
        if row:
            add_row(frame, row)
        pick(frame, row, query, code)
        if times:
            prefix = "" if row == 0 else f"s{row}_"
            frame.locator(f"#f-{prefix}start_time").fill(spans[row][0])
            frame.locator(f"#f-{prefix}end_time").fill(spans[row][1])
        else:
            minutes(frame, row).fill(mins)
    frame.locator("#f-s1_furnished_by").select_option("assistant")
    frame.get_by_role("checkbox", name=re.compile("M17")).first.check()
    frame.locator("#f-plan_of_care_certified").select_option("yes")
    frame.locator("#f-interventions").fill("Quad sets, step-ups 3x10")
    settled(frame, "64 timed minutes: 97110 × 2, 97112 × 2, 97140 × 0")
    frame.locator("#poc-results").get_by_text("Ready to review and sign").wait_for()


def review_and_sign(frame: Any, *, double_click: bool = False) -> None:
    frame.get_by_role("button", name="Review and sign").click()
    frame.locator("#f-note").wait_for()
    for n in range(frame.locator("input[name^='ack_']").count()):
        frame.locator(f"#ack-{n}").check()
        frame.locator(f"#reason-{n}").fill("Reviewed with the billing lead")
    sign = frame.get_by_role("button", name="Sign and send to the EHR")
    if double_click:
        sign.dblclick()
    else:
        sign.click()
    frame.get_by_text("Signed and written").wait_for()


def assert_written_once(sandbox: SandboxHandle) -> None:
    charges = sandbox.resources(f"ChargeItem?patient={PATIENT}")
    notes = sandbox.resources(f"DocumentReference?patient={PATIENT}")
    got = sorted((c["code"]["coding"][0]["code"], c["quantity"]["value"]) for c in charges)
    assert got == [("97110", 2), ("97112", 2)], got
    assert len(notes) == 1  # ONE note for the visit
    note = notes[0]
    for c in charges:
        assert c["supportingInformation"][0]["reference"] == f"DocumentReference/{note['id']}"
    text = str(note)
    assert "97110" in text or note["content"]
    provenance = sandbox.resources(f"Provenance?target=DocumentReference/{note['id']}")
    assert provenance, "the visit's Provenance"


def test_the_visit_is_signed_once_into_one_note_and_a_charge_per_line(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.set_viewport_size({"width": 1280, "height": 1500})
    frame = open_visit(page, clean_sandbox)
    document_visit(frame)
    frame.get_by_role("button", name="Review and sign").click()
    frame.locator("#f-note").wait_for()
    note = frame.locator("#f-note").input_value()
    assert "97110" in note and "97112" in note and "97140" in note and "Quad sets" in note
    assert axe_violations(page) == []
    doc_shot(page, "visit-review")
    frame.get_by_role("link", name="Back to the form").click()
    frame.locator("#f-code-search").wait_for()
    review_and_sign(frame, double_click=True)  # a double click on Sign writes once
    doc_shot(page, "visit-signed")
    assert axe_violations(page) == []
    assert_written_once(clean_sandbox)
    charges = clean_sandbox.resources(f"ChargeItem?patient={PATIENT}")
    mods = {c["code"]["coding"][0]["code"]: str(c) for c in charges}
    assert "'GP'" in mods["97110"] and "'CQ'" not in mods["97110"]
    assert "'GP'" in mods["97112"] and "'CQ'" in mods["97112"]

    # The demo EHR shows what the app wrote: its Notes and its Chart's charges, read server-side.
    page.get_by_role("navigation", name="Chart").get_by_role("link", name="Notes").click()
    notes = page.locator("#chart-view")
    notes.get_by_text("Therapy daily note").first.wait_for()
    assert "written by the app" in notes.inner_text() and "Quad sets" in notes.inner_text()
    page.get_by_role("link", name="Chart", exact=True).click()
    charges = page.locator("#chart-view section").filter(has_text="Charges")
    charges.get_by_text("GP, CQ").wait_for()
    assert "97110" in charges.inner_text() and "written by the app" in charges.inner_text()
    plans = page.locator("#chart-view section").filter(has_text="Plans of care").inner_text()
    assert "Physical therapy plan of care" in plans  # the seeded, certified plan
    page.get_by_role("link", name="Orders").click()
    page.locator("#chart-view").get_by_text("Physical therapy evaluate and treat").wait_for()


def test_the_same_visit_with_start_and_end_times(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    frame = open_visit(page, clean_sandbox)
    document_visit(frame, times=True)
    review_and_sign(frame)
    assert_written_once(clean_sandbox)
    [note] = clean_sandbox.resources(f"DocumentReference?patient={PATIENT}")
    period = note["context"]["period"]
    assert period["start"].startswith("2026-02-23T09:00:00") and period["end"].startswith(
        "2026-02-23T10:04:00"
    )
    assert period["start"][19:] in ("-08:00", "Z", "+00:00") or period["start"][19:]  # carries an offset


def focused_id(page_or_frame: Any) -> str:
    return str(page_or_frame.evaluate("document.activeElement && document.activeElement.id"))


def tab_to(page: Any, element_id: str, limit: int = 60) -> None:
    for _ in range(limit):
        if focused_id(page) == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def test_the_grid_by_keyboard_alone_in_a_400px_window(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.set_viewport_size({"width": 400, "height": 900})
    page.goto(clean_sandbox.ehr_launch_url(PATIENT, encounter=ENCOUNTER, practitioner=PT, frame=False))
    fresh = page.get_by_role("button", name="Discard it and start afresh")
    page.locator("#f-code-search").or_(fresh).wait_for()
    if fresh.count():
        tab_to(page, fresh.get_attribute("id") or "") if fresh.get_attribute("id") else fresh.focus()
        page.keyboard.press("Enter")
        page.locator("#f-code-search").wait_for()
    tab_to(page, "f-code-search")
    page.keyboard.type("balance")  # by words: 97112 is "retraining of balance ..."
    page.locator("[role=option]").first.wait_for()
    assert page.get_attribute("#f-code-search", "aria-expanded") == "true"
    page.keyboard.press("Enter")
    assert page.locator("#f-code").input_value() == "97112"
    tab_to(page, "f-minutes")
    page.keyboard.type("24")
    tab_to(page, "add-row")
    page.keyboard.press("Enter")  # no JavaScript needed: the form adds the row, focus lands in it
    page.locator("#f-s1_code-search").wait_for()
    assert focused_id(page) == "f-s1_code-search"
    page.keyboard.type("9711")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")  # closes the list, keeps nothing half-chosen
    assert page.locator("#f-s1_code").input_value() == ""
    assert page.locator("#f-s1_code-search").input_value() == ""
    page.keyboard.type("9711")
    page.keyboard.press("ArrowDown")  # the second match: 97112 is taken, 97110 is not
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    assert page.locator("#f-s1_code").input_value() == "97110"
    tab_to(page, "f-s1_minutes")
    page.keyboard.type("23")
    page.locator("#visit-allocation").get_by_text("47 timed minutes").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    wide = page.evaluate(
        "() => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 401)"
        ".map(e => e.id || e.className || e.tagName).slice(0, 5)"
    )
    assert wide == [], wide  # nothing cut off at 400 px
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "visit-grid-400px.png"), full_page=False)
    page.evaluate(
        (Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js").read_text()
    )
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")] == []

    tab_to(page, "remove-1")
    page.keyboard.press("Enter")
    page.locator("#f-s1_code-search").wait_for(state="detached")
    assert focused_id(page) == "add-row"
    assert page.locator(".svc-row").count() == 1


def test_without_javascript_the_grid_adds_removes_checks_and_reviews(
    clean_sandbox: SandboxHandle, app_server: AppHandle, browser: Any
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(clean_sandbox.ehr_launch_url(PATIENT, encounter=ENCOUNTER, practitioner=PT, frame=False))
        fresh = page.get_by_role("button", name="Discard it and start afresh")
        page.locator("#f-code").or_(fresh).wait_for()
        if fresh.count():
            fresh.click()
        page.locator("#f-code").select_option("97110")
        page.locator("#f-minutes").fill("33")
        page.get_by_role("button", name="Add a service").click()
        page.locator("#f-s1_code").select_option("97112")
        page.locator("#f-s1_minutes").fill("24")
        page.get_by_role("button", name="Add a service").click()
        page.locator("#f-s2_code").select_option("97140")
        page.locator("#f-s2_minutes").fill("7")
        page.get_by_role("checkbox", name=re.compile("M17")).first.check()
        page.locator("#f-plan_of_care_certified").select_option("yes")
        page.get_by_role("button", name="Check and save").last.click()
        page.locator("#visit-allocation").get_by_text(
            "64 timed minutes: 97110 × 2, 97112 × 2, 97140 × 0"
        ).wait_for()
        page.get_by_role("button", name=re.compile(r"Remove service 3")).click()
        page.locator("#visit-allocation").get_by_text("57 timed minutes: 97110 × 2, 97112 × 2").wait_for()
        page.get_by_role("button", name="Review and sign").click()
        page.locator("#f-note").wait_for()
        assert "97112" in page.locator("#f-note").input_value()
    finally:
        context.close()


def test_nothing_is_cut_off_from_400_to_1280_px(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.ehr_launch_url(PATIENT, encounter=ENCOUNTER, practitioner=PT, frame=False))
    fresh = page.get_by_role("button", name="Discard it and start afresh")
    page.locator("#f-code-search").or_(fresh).wait_for()
    if fresh.count():
        fresh.click()
        page.locator("#f-code-search").wait_for()
    page.locator("#f-code-search").fill("98960")
    page.get_by_role("option", name=re.compile(r"^98960 ")).click()
    page.locator("#poc-results").get_by_text("Must fix before a charge can be signed").wait_for()
    for width in (400, 560, 720, 1024, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(
            "w => [...document.querySelectorAll('main *')].filter(e => {"
            " const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w + 1; })"
            ".map(e => e.id || e.className || e.tagName).slice(0, 5)",
            width,
        )
        assert overflow == [], (width, overflow)
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_two_service_visit_documented_and_signed_by_keyboard_alone(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.ehr_launch_url(PATIENT, encounter=ENCOUNTER, practitioner=PT, frame=False))
    fresh = page.get_by_role("button", name="Discard it and start afresh")
    page.locator("#f-code-search").or_(fresh).wait_for()
    if fresh.count():
        fresh.focus()
        page.keyboard.press("Enter")
        page.locator("#f-code-search").wait_for()
    tab_to(page, "f-code-search")
    page.keyboard.type("97110")
    page.keyboard.press("Enter")
    tab_to(page, "f-minutes")
    page.keyboard.type("33")
    tab_to(page, "add-row")
    page.keyboard.press("Enter")
    page.locator("#f-s1_code-search").wait_for()
    page.keyboard.type("97112")
    page.keyboard.press("Enter")
    tab_to(page, "f-s1_minutes")
    page.keyboard.type("24")
    dx = page.get_by_role("checkbox", name=re.compile("M17")).first.get_attribute("id") or ""
    tab_to(page, dx)
    page.keyboard.press("Space")
    tab_to(page, "f-plan_of_care_certified")
    page.keyboard.type("Yes")
    page.locator("#visit-allocation").get_by_text("57 timed minutes: 97110 × 2, 97112 × 2").wait_for()
    page.locator("#poc-results").get_by_text("Ready to review and sign").wait_for()
    page.locator("#poc-save-status").get_by_text("Draft saved").wait_for()
    for _ in range(80):
        if page.evaluate("document.activeElement && document.activeElement.value === 'review'"):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("#f-note").wait_for()
    for n in range(page.locator("input[name^='ack_']").count()):
        tab_to(page, f"ack-{n}")
        page.keyboard.press("Space")
        tab_to(page, f"reason-{n}")
        page.keyboard.type("Reviewed with the billing lead")
    tab_to(page, "sign-button")
    page.keyboard.press("Enter")
    page.get_by_text("Signed and written").wait_for()
    charges = clean_sandbox.resources(f"ChargeItem?patient={PATIENT}")
    assert sorted((c["code"]["coding"][0]["code"], c["quantity"]["value"]) for c in charges) == [
        ("97110", 2),
        ("97112", 2),
    ]
    assert len(clean_sandbox.resources(f"DocumentReference?patient={PATIENT}")) == 1
