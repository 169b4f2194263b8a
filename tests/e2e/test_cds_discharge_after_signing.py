"""encounter-discharge against what the app really wrote (issue 7): before signing, the diabetes visit's
education order with nothing documented gets the "ordered, not documented" card; after a 98960 session is
signed in the browser and written to the sandbox, the same hook (with the sandbox's prefetch, and reading
``fhirServer`` without it) recognises the app's ChargeItem and DocumentReference and stays quiet."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox_ehr.cds_client import HookCall, hook_request
from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import DM_ENCOUNTER, DM_PATIENT, open_app
from tests.e2e.test_poc_reliability import to_review
from tests.unit.test_cds_spec import check_response

pytestmark = pytest.mark.e2e
HOOK = "encounter-discharge"


def discharge_cards(sandbox: SandboxHandle, app_server: AppHandle, mode: str) -> list[dict[str, Any]]:
    services = requests.get(f"{app_server.base_url}/cds-services", timeout=10).json()["services"]
    service = next(s for s in services if s["hook"] == HOOK)
    call = HookCall("smart-edu", "rn-okafor", DM_PATIENT, DM_ENCOUNTER, HOOK)
    body = hook_request(sandbox.state, call, service, mode)
    resp = requests.post(f"{app_server.base_url}/cds-services/{service['id']}", json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    check_response(answer)
    cards: list[dict[str, Any]] = answer["cards"]
    return cards


def test_discharge_recognises_what_the_app_wrote(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    for mode in ("prefetch", "fhir"):
        before = discharge_cards(clean_sandbox, app_server, mode)
        assert len(before) == 1 and "ordered" in before[0]["summary"], (mode, before)

    frame = open_app(page, clean_sandbox, DM_PATIENT, DM_ENCOUNTER)
    to_review(frame, page)
    frame.get_by_role("button", name="Sign and send to the EHR").click()
    frame.get_by_text("Signed and written").wait_for()
    assert len(clean_sandbox.resources(f"ChargeItem?patient={DM_PATIENT}")) == 1

    for mode in ("prefetch", "fhir"):
        assert discharge_cards(clean_sandbox, app_server, mode) == [], mode
