"""The one settings object: every variable parsed and typed, a test's mapping winning, bad values named,
and no other module reading the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smart_app import create_app
from smart_app.config import settings_of
from smart_app.settings import Settings, SettingsError, load_settings, variable_names

ROOT = Path(__file__).resolve().parents[2]


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.http_timeout == (3.05, 15.0) and settings.fhir_timeout == (3.05, 30.0)
    assert settings.state_ttl == 600 and settings.launch_ttl == 43200 and settings.cookie_secure is True
    assert settings.cds_cors_origins == "*" and settings.frame_ancestors == () and settings.rules_dirs == ()
    assert settings.launch_config_dir.name == "launch_config"


def test_every_variable_is_read_and_typed_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "SMART_EDU_LAUNCH_CONFIG": str(tmp_path),
        "SMART_EDU_BASE_URL": "https://app.example.org",
        "SMART_EDU_DATABASE_URL": "postgresql+psycopg://app@db/edu",
        "SMART_EDU_SECRET_KEY": "k" * 64,
        "SMART_EDU_SECRET_KEY_PREVIOUS": " old-2 , old-1,, ",
        "SMART_EDU_FRAME_ANCESTORS": "https://a.example, https://b.example",
        "SMART_EDU_STATE_TTL": "120",
        "SMART_EDU_LAUNCH_TTL": " 3600 ",
        "SMART_EDU_DISCOVERY_TTL": "60.5",
        "SMART_EDU_REFRESH_MARGIN": "30",
        "SMART_EDU_HTTP_TIMEOUT": "2,20",
        "SMART_EDU_FHIR_TIMEOUT": "45",
        "SMART_EDU_COOKIE_SECURE": "false",
        "SMART_EDU_READ_WORKERS": "8",
        "SMART_EDU_WRITE_LEASE": "30.5",
        "SMART_EDU_MAX_CONTENT_LENGTH": "2048",
        "SMART_EDU_CDS_CLIENTS": "cds.toml",
        "SMART_EDU_CDS_CORS_ORIGINS": "https://ehr.example",
        "SMART_EDU_CURRICULA": "curricula.toml",
        "SMART_EDU_RULES_DIR": "/srv/a:/srv/b",
        "SMART_EDU_EDIT_TABLES_DIR": "/srv/ncci",
        "SMART_EDU_BEARER_TOKEN": "tok",
        "SMART_EDU_BEARER_TOKEN_ISSUER": "https://ehr.example/fhir",
        "SMART_EDU_RETENTION_DAYS": "90",
        "SMART_EDU_AUDIT_RETENTION_DAYS": "3653",
        "XDG_DATA_HOME": "/data",
        "SMART_EDU_LOG_FORMAT": " JSON ",
    }
    assert set(environ) == set(variable_names())  # this test names every variable there is
    s = load_settings(environ=environ)
    assert s.launch_config_dir == tmp_path and s.base_url == "https://app.example.org"
    assert s.database_url == "postgresql+psycopg://app@db/edu" and s.secret_key == "k" * 64
    assert s.secret_key_previous == ("old-2", "old-1")
    assert s.frame_ancestors == ("https://a.example", "https://b.example")
    assert (s.state_ttl, s.launch_ttl, s.discovery_ttl, s.refresh_margin) == (120, 3600, 60.5, 30.0)
    assert s.http_timeout == (2.0, 20.0) and s.fhir_timeout == (45.0, 45.0)
    assert s.cookie_secure is False and s.read_workers == 8 and s.max_content_length == 2048
    assert s.write_lease == 30.5
    assert s.cds_clients == Path("cds.toml") and s.cds_cors_origins == "https://ehr.example"
    assert s.curricula == Path("curricula.toml")
    assert s.rules_dirs == (Path("/srv/a"), Path("/srv/b")) and s.edit_tables_dir == Path("/srv/ncci")
    assert (s.bearer_token, s.bearer_token_issuer) == ("tok", "https://ehr.example/fhir")
    assert (s.retention_days, s.audit_retention_days) == (90, 3653)
    assert s.user_data_dir == Path("/data")
    assert s.log_format == "json"


def test_a_tests_mapping_wins_typed_or_as_text_and_none_clears() -> None:
    environ = {"SMART_EDU_STATE_TTL": "120", "SMART_EDU_BASE_URL": "https://env.example"}
    s = load_settings({"SMART_EDU_STATE_TTL": 5, "SMART_EDU_HTTP_TIMEOUT": (1, 2)}, environ=environ)
    assert s.state_ttl == 5 and s.http_timeout == (1.0, 2.0) and s.base_url == "https://env.example"
    assert load_settings({"SMART_EDU_BASE_URL": None}, environ=environ).base_url is None
    assert load_settings({"MAX_CONTENT_LENGTH": 99}, environ={}).max_content_length == 99


def test_an_empty_variable_counts_as_unset() -> None:
    assert load_settings(environ={"SMART_EDU_STATE_TTL": "", "SMART_EDU_CDS_CORS_ORIGINS": ""}) == Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMART_EDU_STATE_TTL", "ten"),
        ("SMART_EDU_LAUNCH_TTL", "0"),
        ("SMART_EDU_READ_WORKERS", "-1"),
        ("SMART_EDU_HTTP_TIMEOUT", "1,2,3"),
        ("SMART_EDU_FHIR_TIMEOUT", "0"),
        ("SMART_EDU_COOKIE_SECURE", "maybe"),
        ("SMART_EDU_DISCOVERY_TTL", "nan"),
        ("SMART_EDU_LOG_FORMAT", "xml"),
        ("SMART_EDU_WRITE_LEASE", "0"),
    ],
)
def test_a_value_the_app_cannot_use_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings(environ={name: value})


def test_create_app_builds_the_settings_once_from_environment_and_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMART_EDU_LAUNCH_TTL", "900")
    monkeypatch.setenv("SMART_EDU_READ_WORKERS", "2")
    app = create_app({"SMART_EDU_DATABASE_URL": "sqlite://", "SMART_EDU_READ_WORKERS": 3})
    settings = settings_of(app)
    assert (settings.launch_ttl, settings.read_workers, settings.database_url) == (900, 3, "sqlite://")
    monkeypatch.setenv("SMART_EDU_STATE_TTL", "soon")
    with pytest.raises(SettingsError, match="SMART_EDU_STATE_TTL"):
        create_app({"SMART_EDU_DATABASE_URL": "sqlite://"})


def test_a_bad_setting_stops_a_command_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from smart_app.cli import main

    monkeypatch.setenv("SMART_EDU_HTTP_TIMEOUT", "fast")
    assert main(["outbox", "list"]) == 2
    assert "SMART_EDU_HTTP_TIMEOUT='fast'" in capsys.readouterr().err


READS_ENVIRONMENT = re.compile(r"\bos\.environ\b|\bgetenv\b|\bfrom os import\b|\benviron\s*(\.get\(|\[)")


def test_no_module_but_settings_reads_the_environment() -> None:
    offenders = []
    for package in ("smart_app", "billing_rules", "fhir_mappings"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "smart_app" / "settings.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if READS_ENVIRONMENT.search(line.split("#")[0]):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_no_module_reads_a_setting_from_flask_config() -> None:
    pattern = re.compile(r"config(\.get\(|\[)\s*[\"'](SMART_EDU_|MAX_CONTENT_LENGTH)")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "smart_app").rglob("*.py"))
        if pattern.search(path.read_text(encoding="utf-8")) and path.name != "config.py"
    ]
    assert offenders == []


def test_the_scan_would_catch_a_reader() -> None:
    assert READS_ENVIRONMENT.search('x = os.environ.get("SMART_EDU_X")')
    assert READS_ENVIRONMENT.search("from os import getenv")
    assert READS_ENVIRONMENT.search('token = environ["X"]')
    assert not READS_ENVIRONMENT.search("def atoms(self, resp, req, environ, request_time):")


@pytest.mark.parametrize("doc", ["README.md", "docs/configuration.md"])
def test_every_setting_is_documented(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert [name for name in variable_names() if f"`{name}`" not in text] == []
