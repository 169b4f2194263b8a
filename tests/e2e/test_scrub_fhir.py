"""smart-edu scrub --fhir-base --profile against the sandbox EHR on loopback: SMART Backend Services
authorization, the seeded month exported at the Group level, scrubbed; what a biller must catch is caught."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox_ehr.seed_src.build_month_charges import GROUP_ID
from sandbox_ehr.server import ServerThread
from smart_app.cli import main
from tests.e2e.test_bulk_export_sandbox import KEY, KEY_ENV, serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ehr() -> Iterator[ServerThread]:
    server = serve()
    yield server
    server.stop()


@pytest.fixture
def profiles(ehr: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "sandbox-backend.toml").write_text(
        f"""name = "sandbox-backend"
iss = "{ehr.app.extensions["sandbox"].config.fhir_base}"
client_id = "app"
scopes = ["openid"]

[backend]
client_id = "smart-edu-scrub"
private_key_env = "{KEY_ENV}"
key_id = "scrub-e2e"
alg = "ES384"
group_id = "{GROUP_ID}"
""",
        encoding="utf-8",
    )
    monkeypatch.setenv(KEY_ENV, KEY.as_pem(private=True).decode())
    monkeypatch.setenv("SMART_EDU_LAUNCH_CONFIG", str(folder))
    return "sandbox-backend"


def scrub(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["scrub", *args])
    return code, out.getvalue(), err.getvalue()


def blocks(doc: dict[str, Any], charge_part: str) -> set[str]:
    return {
        f["rule"]
        for c in doc["charges"]
        if charge_part in c["chargeitem"]
        for f in c["findings"]
        if f["severity"] == "block"
    }


def test_the_seeded_month_is_fetched_with_backend_authorization_and_scrubbed(
    ehr: ServerThread, profiles: str, tmp_path: Path
) -> None:
    state = ehr.app.extensions["sandbox"]
    out = tmp_path / "march"
    code, stdout, err = scrub(
        "--fhir-base", state.config.fhir_base, "--profile", profiles, "--out", str(out),
        "--since", "2026-03-01", "--until", "2026-03-31",
    )  # fmt: skip
    assert code == 1, err  # the seeded month holds blocked charges
    doc = json.loads((out / "scrub.json").read_text(encoding="utf-8"))
    assert doc["summary"]["period"] == ["2026-03-01", "2026-03-31"]
    assert all("2026-03-01" <= c["date"] <= "2026-03-31" for c in doc["charges"])
    assert (out / "export" / "ChargeItem.ndjson").is_file() and (out / "scrub.html").is_file()
    assert "payer.not-covered" in blocks(doc, "edu-medicare")  # Medicare 98960
    assert "order.missing" in blocks(doc, "edu-noorder")
    assert "provider.wrong-family" in blocks(doc, "edu-np")
    assert "dx.invalid" in blocks(doc, "dxinvalid") and "dx.not-billable" in blocks(doc, "dxheader")
    assert "scrub.modifier-missing" in blocks(doc, "pt-nocq-0312")  # the assistant's line without CQ
    assert any(f["rule"] == "duplicate.charge" for c in doc["charges"] for f in c["findings"])
    [token] = state.tokens.issued(client_id="smart-edu-scrub")[-1:]
    assert token.grant_type == "client_credentials"
    assert len(state.exports) == 0  # the export job was deleted
    assert f"wrote {out / 'scrub.json'}" in stdout


def test_a_second_run_into_the_same_folder_keeps_the_first_export(
    ehr: ServerThread, profiles: str, tmp_path: Path
) -> None:
    base = ehr.app.extensions["sandbox"].config.fhir_base
    for _ in range(2):
        scrub("--fhir-base", base, "--profile", profiles, "--out", str(tmp_path / "o"), "--format", "json")
    assert (tmp_path / "o" / "export" / "ChargeItem.ndjson").is_file()
    assert (tmp_path / "o" / "export-2" / "ChargeItem.ndjson").is_file()


def test_an_unknown_profile_or_a_stray_profile_is_bad_input(
    ehr: ServerThread, profiles: str, tmp_path: Path
) -> None:
    base = ehr.app.extensions["sandbox"].config.fhir_base
    code, _, err = scrub("--fhir-base", base, "--profile", "nope", "--out", str(tmp_path / "o"))
    assert code == 2 and "--profile nope: no such launch profile" in err
    code, _, err = scrub("--ndjson", str(tmp_path), "--profile", profiles, "--out", str(tmp_path / "o"))
    assert code == 2 and "--profile goes with --fhir-base" in err


def test_a_server_that_is_down_is_a_server_error(tmp_path: Path) -> None:
    code, _, err = scrub("--fhir-base", "http://127.0.0.1:9/fhir", "--out", str(tmp_path / "o"))
    assert code == 3 and "server error" in err
