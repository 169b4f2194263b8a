"""Launch profiles: the shipped ones load with their write-back abilities; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smart_app.profiles import ProfileError, load_profiles, profile_from_mapping
from smart_app.resources import launch_config_dir

BASE: dict[str, Any] = {
    "name": "x",
    "iss": "https://ehr.test/fhir",
    "client_id": "app",
    "client_auth": "none",
    "scopes": ["openid", "fhirUser", "patient/Patient.r"],
}


def test_shipped_profiles_load_with_their_writeback_capabilities() -> None:
    profiles = load_profiles(launch_config_dir())
    assert {p.name for p in profiles} == {
        "smart-health-it",
        "hapi-public",
        "epic-sandbox",
        "oracle-health-sandbox",
    }
    launcher = profiles.by_iss("https://launch.smarthealthit.org/v/r4/fhir/")  # trailing slash tolerated
    assert launcher is not None and launcher.name == "smart-health-it"
    assert launcher.writeback.transaction and launcher.writeback.conditional_create
    hapi = profiles.by_name("hapi-public")
    assert hapi is not None and hapi.auth == "none"
    epic = profiles.by_name("epic-sandbox")
    assert epic is not None and epic.writeback.chargeitem == "none" and epic.writeback.charge_summary
    assert epic.client_auth == "private_key_jwt" and epic.alg == "RS384"
    oracle = profiles.by_name("oracle-health-sandbox")
    assert oracle is not None and oracle.writeback.chargeitem == "operation"
    assert oracle.writeback.chargeitem_status == "unknown"
    assert oracle.writeback.note_content_type == "text/plain;charset=utf-8"
    assert (
        oracle.writeback.bill_code_system is not None and "BillCodes-CPT" in oracle.writeback.bill_code_system
    )
    assert not oracle.writeback.transaction and oracle.pkce == "if-supported"


def test_shipped_profiles_hold_no_secrets() -> None:
    for path in Path(launch_config_dir()).glob("*.toml"):
        text = path.read_text(encoding="utf-8").lower()
        assert "client_secret =" not in text and "begin private key" not in text


def test_unknown_issuer_is_not_found() -> None:
    assert load_profiles(launch_config_dir()).by_iss("https://evil.test/fhir") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "unknown keys: colour"),
        ({"iss": "ehr.test/fhir"}, "absolute http"),
        ({"client_id": ""}, "client_id"),
        ({"client_auth": "client_secret_post"}, "client_auth must be one of"),
        ({"client_auth": "client_secret_basic"}, "client_secret_env"),
        ({"client_auth": "private_key_jwt", "private_key_env": "K"}, "key_id"),
        ({"client_auth": "private_key_jwt", "private_key_env": "K", "key_id": "k", "alg": "RS256"}, "alg"),
        ({"pkce": "never"}, "pkce must be one of"),
        ({"scopes": "openid"}, "scopes must be a list"),
        ({"writeback": {"chargeitem": "post"}}, "[writeback] chargeitem"),
        ({"writeback": {"chargeitem": "operation"}}, "bill_code_system"),
        ({"writeback": {"transaction": "yes"}}, "transaction must be true or false"),
        ({"writeback": {"bill_codes": {"98960": {"code": "1"}}}}, "needs a system and a code"),
        (
            {"writeback": {"chargeitem_status": "billed"}},
            "[writeback] chargeitem_status 'billed' is not one of",
        ),
        (
            {"writeback": {"chargeitem": "operation", "bill_code_system": "https://x/BillCodes-CPT"}},
            "[writeback] chargeitem = 'operation' (Oracle Health's ChargeItem/$create) needs",
        ),
        ({"writeback": {"charge_summary": True}}, "[writeback] charge_summary applies only where"),
        ({"discovery": {"token_endpoint": "/token"}}, "absolute URL"),
    ],
)
def test_bad_profiles_are_refused_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError) as err:
        profile_from_mapping(BASE | change)
    assert message in str(err.value)


def test_open_server_profile_needs_no_client() -> None:
    profile = profile_from_mapping({"name": "open", "iss": "https://open.test/R4", "auth": "none"})
    assert profile.auth == "none" and profile.scopes == ()


def test_secrets_come_from_the_named_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = profile_from_mapping(
        BASE | {"client_id": "", "client_id_env": "T_CLIENT", "client_auth": "client_secret_basic",
                "client_secret_env": "T_SECRET"}
    )  # fmt: skip
    monkeypatch.delenv("T_SECRET", raising=False)
    with pytest.raises(ProfileError, match="T_SECRET is not set"):
        profile.client_secret()
    monkeypatch.setenv("T_SECRET", "s")
    monkeypatch.setenv("T_CLIENT", "c")
    assert (profile.resolved_client_id(), profile.client_secret()) == ("c", "s")


def test_needed_scopes_leave_out_refresh_hints() -> None:
    profile = profile_from_mapping(BASE | {"scopes": ["openid", "online_access", "patient/Patient.r"]})
    assert profile.needed_scopes == ("openid", "patient/Patient.r")
    explicit = profile_from_mapping(BASE | {"required_scopes": ["patient/Patient.r"]})
    assert explicit.needed_scopes == ("patient/Patient.r",)


def test_duplicate_issuers_and_bad_toml_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "a"\niss = "https://ehr.test/fhir"\nauth = "none"\n')
    (tmp_path / "b.toml").write_text('name = "b"\niss = "https://ehr.test/fhir/"\nauth = "none"\n')
    with pytest.raises(ProfileError, match="share the issuer"):
        load_profiles(tmp_path)
    (tmp_path / "b.toml").write_text("name = \n")
    with pytest.raises(ProfileError, match=r"b\.toml: not valid TOML"):
        load_profiles(tmp_path)


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        load_profiles(tmp_path / "nope")


def test_timezone_is_an_iana_name_or_refused() -> None:
    assert profile_from_mapping({**BASE, "timezone": "America/Chicago"}).timezone == "America/Chicago"
    assert profile_from_mapping(BASE).timezone is None
    for bad in ("Mars/Base", "-05:00", 5):
        with pytest.raises(ProfileError, match="timezone"):
            profile_from_mapping({**BASE, "timezone": bad})
