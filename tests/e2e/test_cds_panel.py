"""The sandbox launcher's CDS Hooks panel in a real Chromium (issue 7): run patient-view for the commercial
diabetes patient, see the app's card, launch the app from its link with 98960 preselected, and dismiss a card
with a reason that the app records; axe-core finds no serious or critical violation on the panel or the app it
launches. Screenshots under test-artifacts/cds-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import delete

from smart_app.cds_hooks import store as cds_store
from smart_app.launches import db_of
from smart_app.point_of_care.drafts import DraftRow
from smart_app.writeback import audit
from tests.e2e.conftest import ARTIFACTS, AppHandle, SandboxHandle
from tests.e2e.test_poc_document import AXE, axe_violations

pytestmark = pytest.mark.e2e
PATIENT, ENCOUNTER = "edu-dm-commercial", "enc-dm-commercial-0302"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"cds-{name}.png"), full_page=True)


def fresh_visit(app_server: AppHandle) -> None:
    """No draft (open or signed) of other tests for this visit in the app: the card opens a NEW draft."""
    with db_of(app_server.app).session() as s:
        s.execute(delete(DraftRow).where(DraftRow.patient_id == PATIENT, DraftRow.encounter_id == ENCOUNTER))


def run_patient_view(page: Any, sandbox: SandboxHandle) -> str:
    page.goto(sandbox.launcher_url)
    page.select_option("#patient", PATIENT)
    page.click("#cds-patient-view")
    page.wait_for_url(re.compile(r"/cds/"))
    page.locator(".cds-card").first.wait_for()
    return str(page.url)


def test_patient_view_card_launches_the_app_with_98960_preselected(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    fresh_visit(app_server)
    run_patient_view(page, clean_sandbox)
    card = page.locator(".cds-card").first
    assert "98960" in card.locator(".cds-summary").inner_text()
    assert "Patient Education Billing Checker" in card.inner_text()
    assert card.locator(".cds-detail p").count() >= 1  # Markdown rendered as HTML paragraphs
    shot(page, "panel")
    page.evaluate(AXE.read_text(encoding="utf-8"))  # the panel itself (the sandbox's page, no frame)
    panel = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert [v["id"] for v in panel["violations"] if v["impact"] in ("serious", "critical")] == []

    card.locator("button.cds-link").first.click()
    page.wait_for_url(re.compile(r"/ehr/"))
    assert page.locator("#banner-from-card").inner_text() == "Opened from a CDS card"
    frame = page.frame_locator("#app-frame")
    line = frame.locator("#poc-from-card")
    line.wait_for()
    assert "suggested 98960" in line.inner_text()
    assert frame.locator("#f-code").input_value() == "98960"
    shot(page, "app-from-card")
    assert axe_violations(page) == []  # the app as the card's link opened it


def test_dismissing_a_card_with_a_reason_is_recorded_by_the_app(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    run_patient_view(page, clean_sandbox)
    card = page.locator(".cds-card").first
    uuid = card.get_attribute("data-uuid")
    reason = card.locator("select[name=reason] option").first.get_attribute("value")
    assert uuid and reason
    card.locator("select[name=reason]").select_option(reason)
    card.locator("input[name=comment]").fill("taught last week")
    card.locator("button.cds-dismiss-button").click()
    page.locator(".cds-dismissed").wait_for()
    assert "recorded: 1" in page.locator(".cds-dismissed").inner_text()
    shot(page, "dismissed")

    rows = audit.entries(db_of(app_server.app), write_key=f"cds:{uuid}")
    assert [r["action"] for r in rows] == ["cds-feedback"]
    assert rows[0]["patient_id"] == PATIENT and reason in str(rows[0]["message"])
    assert cds_store.feedback_summary(db_of(app_server.app))["patient-view"][f"overridden:{reason}"] >= 1


def test_without_prefetch_the_app_reads_the_sandbox_over_fhirServer(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    page.goto(clean_sandbox.launcher_url)
    page.select_option("#patient", PATIENT)
    page.select_option("#cds_mode", "fhir")
    page.click("#cds-encounter-start")
    page.wait_for_url(re.compile(r"/cds/"))
    assert "data: fhirServer only" in page.locator("#cds-panel").inner_text()
    assert "98960" in page.locator(".cds-card .cds-summary").first.inner_text()
    assert [t.grant_type for t in clean_sandbox.state.tokens.issued()] == ["cds-hooks"]
    shot(page, "encounter-start-fhir")
