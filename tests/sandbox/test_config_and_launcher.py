"""Sandbox configuration file and the launcher's own checks (CSRF, choices that do not fit together)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox_ehr.config import load_config
from tests.sandbox.conftest import Ehr, query_of

CONFIG = """
base_url = "http://localhost:9000/"
database = "store.sqlite3"
open_fhir = true
access_token_lifetime = 600

[[clients]]
client_id = "app"
type = "confidential-symmetric"
client_secret_env = "SANDBOX_TEST_SECRET"
redirect_uris = ["http://127.0.0.1:8000/callback"]
launch_uri = "http://127.0.0.1:8000/launch"

[[clients]]
client_id = "asym"
type = "confidential-asymmetric"
jwks_url = "http://127.0.0.1:8001/jwks.json"
redirect_uris = ["http://127.0.0.1:8001/callback"]
"""


def test_config_file_resolves_paths_and_reads_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_TEST_SECRET", "from-env")
    path = tmp_path / "sandbox.toml"
    path.write_text(CONFIG)
    cfg = load_config(path)
    assert cfg.fhir_base == "http://localhost:9000/fhir"
    assert cfg.database == str(tmp_path / "store.sqlite3")
    assert cfg.open_fhir and cfg.access_token_lifetime == 600
    app = cfg.client("app")
    assert app is not None and app.client_secret == "from-env" and app.auth_method == "client_secret_basic"
    asym = cfg.client("asym")
    assert asym is not None and asym.auth_method == "private_key_jwt"


def test_config_refuses_a_symmetric_client_without_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDBOX_TEST_SECRET", raising=False)
    path = tmp_path / "sandbox.toml"
    path.write_text(CONFIG)
    with pytest.raises(ValueError, match="needs a secret"):
        load_config(path)


def test_launcher_form_needs_its_csrf_token_and_a_matching_encounter(fresh_ehr: Ehr) -> None:
    page = fresh_ehr.http.get(f"{fresh_ehr.base}/")
    assert page.status_code == 200 and "&lt;b&gt;Robert&lt;/b&gt;" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    choice = {"client_id": "public-app", "practitioner": "", "patient": "edu-dm-commercial",
              "encounter": "", "launch_type": "ehr"}  # fmt: skip
    url = f"{fresh_ehr.base}/launch"
    assert fresh_ehr.http.post(url, data=choice, allow_redirects=False).status_code == 400
    mismatch = dict(choice, csrf_token=token.group(1), encounter="enc-knee-medicare-0216")
    assert fresh_ehr.http.post(url, data=mismatch, allow_redirects=False).status_code == 400
    ok = fresh_ehr.http.post(url, data=dict(choice, csrf_token=token.group(1)), allow_redirects=False)
    assert ok.status_code == 302 and "/ehr/" in ok.headers["Location"]
    ehr_page = fresh_ehr.http.get(fresh_ehr.base + ok.headers["Location"])
    frame_src = re.search(r'<iframe[^>]*src="([^"]+)"', ehr_page.text)
    assert frame_src and 'sandbox="allow-forms' in ehr_page.text
    args = query_of(frame_src.group(1).replace("&amp;", "&"))
    assert args["iss"] == fresh_ehr.fhir and args["launch"]
    assert "Grace Okafor" in ehr_page.text  # the default user: the encounter's clinician


def test_launcher_defaults_to_the_encounters_clinician(fresh_ehr: Ehr) -> None:
    launch = fresh_ehr.launch_value(patient="edu-knee-medicare", practitioner="",
                                    encounter="enc-knee-medicare-0223")  # fmt: skip
    assert fresh_ehr.state.tokens.take_launch(launch).practitioner == "pta-cho"
