"""``smart-edu sandbox-test`` has no launch, so no fhirUser: the payer comes from the patient's Coverage (or
the service's ``payer_class``) and the clinician's role from the service's ``provider_role`` (issue 5)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import responses

from smart_app.reads import forget_capabilities
from tests.conftest import load_json
from tests.http.test_sandbox_test import chart, sandbox_test, service_file, store  # noqa: F401
from tests.http.test_writeback_fake import FakeFhir, hapi_caps

SOPT = "https://nahdo.org/sopt"


def coverage(sopt_code: str, display: str) -> dict[str, Any]:
    cov = copy.deepcopy(load_json("fixtures/coverage.us-core-example.json"))
    cov["type"] = {"coding": [{"system": SOPT, "code": sopt_code, "display": display}], "text": display}
    cov["period"] = {"start": "2026-01-01"}
    return cov


def rules(out: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in out["evaluation"]["findings"]}


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: dict[str, Any], **service: Any) -> Any:
    """One sandbox-test run against its own stubbed server (a fresh stub and capability cache each time)."""
    forget_capabilities()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeFhir(hapi_caps()).seed(*chart(), *extra).install(mock)
        return sandbox_test(capsys, "--service", service_file(tmp_path, **service))


def test_the_payer_comes_from_the_patients_coverage_when_the_service_names_none(
    store: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, tmp_path, coverage("121", "Medicare Part B"), payer_class=None)
    assert code == 1 and "payer.not-covered" in rules(out)  # Medicare FFS does not pay 98960
    assert out["evaluation"]["estimate"]["payer_class"] == "medicare"


def test_the_services_payer_class_wins_and_without_either_the_payer_is_unknown(
    store: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, tmp_path, coverage("121", "Medicare Part B"), payer_class="commercial")
    assert code == 0 and "payer.not-covered" not in rules(out)
    _, unknown, _ = run(capsys, tmp_path, payer_class=None)
    assert "payer.unknown" in rules(unknown)


def test_the_role_comes_from_provider_role_and_is_unknown_without_it(
    store: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, tmp_path, provider_role="RN")
    assert code == 0 and "provider.unknown" not in rules(out)
    _, unknown, _ = run(capsys, tmp_path, provider_role=None)
    assert "provider.unknown" in rules(unknown)
    code, md, _ = run(capsys, tmp_path, provider_role="MD")
    assert code == 1 and "provider.wrong-family" in rules(md)  # the role is used, not just carried


def test_a_protected_server_gets_the_bearer_token_from_the_environment_and_it_is_never_printed(
    store: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMART_EDU_BEARER_TOKEN", "sandbox-secret-token")
    forget_capabilities()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeFhir(hapi_caps()).seed(*chart()).install(mock)
        code, out, err = sandbox_test(capsys, "--service", service_file(tmp_path), "--write")
        sent = [call.request.headers.get("Authorization") for call in mock.calls]
    assert code == 0 and out["result"]["status"] == "written"
    assert sent and set(sent) == {"Bearer sandbox-secret-token"}
    assert "sandbox-secret-token" not in json.dumps(out) + err
    assert len(fake.of_type("ChargeItem")) == 1
