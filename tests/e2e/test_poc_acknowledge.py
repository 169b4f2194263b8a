"""The warning-acknowledgement step in a real Chromium: a second same-code session on a visit that already has
a signed 98960 warns ``duplicate.charge``; signing without a reason is refused on the page, ticking it with a
reason signs, the reason lands in the audit log and the second session gets its own charge. axe-core checks
the review page with the warning and the result page."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smart_app.launches import db_of
from smart_app.writeback import audit
from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import (
    DM_ENCOUNTER,
    DM_PATIENT,
    axe_violations,
    document_98960,
    open_app,
    settle,
    shot,
)
from tests.e2e.test_poc_reliability import to_review

pytestmark = pytest.mark.e2e
REASON = "Second, separate group session the same afternoon (see the roster)"


def signed_rows(app_server: AppHandle) -> list[dict[str, Any]]:
    rows = audit.entries(db_of(app_server.app), limit=500)
    return [r for r in rows if r["action"] == "signed" and r["patient_id"] == DM_PATIENT]


def test_second_session_needs_the_duplicate_warning_acknowledged_with_a_reason_kept_in_the_audit_log(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    frame = open_app(page, clean_sandbox, DM_PATIENT, DM_ENCOUNTER)
    to_review(frame, page)
    frame.get_by_role("button", name="Sign and send to the EHR").click()
    frame.get_by_text("Signed and written").wait_for()
    assert axe_violations(page) == []  # the result page
    before = len(signed_rows(app_server))

    frame.get_by_role("link", name="Document another service").click()
    frame.locator("#f-code").wait_for()
    to_review_without_acks(frame)
    warning = frame.locator("fieldset.sev-warn").filter(has=frame.locator("input[value='duplicate.charge']"))
    assert warning.count() == 1
    assert axe_violations(page) == []  # the review page with a warning to acknowledge
    shot(page, "14-duplicate-warning")

    frame.get_by_role("button", name="Sign and send to the EHR").click()
    frame.get_by_text("and give a reason").first.wait_for()  # refused: nothing ticked, no reason
    assert len(clean_sandbox.resources(f"ChargeItem?patient={DM_PATIENT}")) == 1
    n = warning.locator("input[name^='ack_']").get_attribute("name").removeprefix("ack_")
    frame.locator(f"#ack-{n}").check()
    frame.get_by_label("Reason (kept in the audit log)").nth(int(n)).fill(REASON)
    frame.get_by_role("button", name="Sign and send to the EHR").click()
    frame.get_by_text("Signed and written").wait_for()
    shot(page, "15-second-session-signed")

    assert len(clean_sandbox.resources(f"ChargeItem?patient={DM_PATIENT}")) == 2
    rows = signed_rows(app_server)
    assert len(rows) == before + 1
    acks = json.loads(rows[0]["message"])["acknowledged"]
    assert {"rule": "duplicate.charge", "reason": REASON} in acks


def to_review_without_acks(frame: Any) -> None:
    """The same documentation as the first session; the review is opened but nothing is acknowledged."""
    document_98960(frame, None, minutes="25")
    frame.get_by_label("E11.9 — Type 2 diabetes mellitus without complications").check()
    settle(frame, "Ready to review and sign")
    frame.get_by_role("button", name="Review and sign").click()
    frame.locator("#f-note").wait_for()
