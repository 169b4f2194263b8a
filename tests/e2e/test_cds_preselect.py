"""From the sandbox's CDS panel to the app, end to end: the card's suggested code is chosen in the app even
when the clinician already signed a service for the visit (the form then starts a new service; before, the
page said "It suggested 98960" and chose nothing), and a Medicare card's payable routes are "Switch to"
buttons that put the chosen code in the visit grid."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smart_app.launches import db_of
from smart_app.point_of_care import drafts
from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_cds_panel import fresh_visit, run_patient_view
from tests.e2e.test_poc_document import axe_violations
from tests.e2e.test_visit_grid import DOCS_IMG

pytestmark = pytest.mark.e2e


def open_from_card(page: Any, sandbox: SandboxHandle, patient: str) -> Any:
    page.goto(sandbox.launcher_url)
    page.select_option("#patient", patient)
    page.click("#cds-patient-view")
    page.wait_for_url(re.compile(r"/cds/"))
    page.locator(".cds-card button.cds-link").first.click()
    page.wait_for_url(re.compile(r"/ehr/"))
    frame = page.frame_locator("#app-frame")
    frame.locator("#poc-from-card").wait_for()
    return frame


def test_the_cards_code_is_chosen_after_a_service_was_already_signed_for_the_visit(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    fresh_visit(app_server)
    run_patient_view(page, clean_sandbox)
    frame = open_from_card(page, clean_sandbox, "edu-dm-commercial")
    assert frame.locator("#f-code").input_value() == "98960"
    frame.locator("#f-minutes").fill("20")  # the live check saves the draft
    frame.locator("#poc-save-status").get_by_text("Draft saved").wait_for()
    draft_id = frame.locator("input[name=draft_id]").input_value()
    db = db_of(app_server.app)
    assert drafts.claim_for_signing(db, draft_id)
    drafts.finish(db, draft_id, drafts.SIGNED, {"status": "written"})  # as if signed and written

    frame = open_from_card(page, clean_sandbox, "edu-dm-commercial")
    assert "chosen below for this new draft" in frame.locator("#poc-from-card").inner_text()
    assert frame.locator("#f-code").input_value() == "98960"
    assert frame.locator("#f-code-search").input_value().startswith("98960 ")


def test_a_medicare_cards_payable_routes_are_switch_buttons(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    frame = open_from_card(page, clean_sandbox, "edu-knee-medicare")
    discard = frame.get_by_role("button", name="Discard it and start afresh")
    if discard.count():
        discard.click()
        frame.locator("#poc-from-card").wait_for()
    line = frame.locator("#poc-from-card").inner_text()
    assert "suggested 98960" in line and "does not pay it" in line
    switch = frame.get_by_role("group", name="Payable alternatives").get_by_role("button").first
    page.set_viewport_size({"width": 1100, "height": 700})
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.locator("#app-frame").screenshot(path=str(DOCS_IMG / "from-card-switch.png"))
    code = re.search(r"Switch to (\w+)", switch.inner_text())
    assert code is not None
    switch.click()
    frame.locator("#f-code-search").wait_for()
    assert frame.locator("#f-code").input_value() == code[1]
    assert axe_violations(page) == []
