"""Deployment-facing security settings: framing sources, the access log, and what `serve` warns about."""

from __future__ import annotations

import datetime
import logging
import types

import pytest
from gunicorn.config import Config

from smart_app import create_app
from smart_app.commands.serve import RedactingLogger, deployment_warnings
from smart_app.security import framing_sources
from smart_app.settings import load_settings


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        "https:",
        "'unsafe-inline'",
        "https://a.test;",
        "script-src",
        "data:",
        "https://a.test/path",
        "ehr.test",
    ],
)
def test_framing_sources_drop_anything_but_origins(bad: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert framing_sources(["https://ehr.test", bad, "http://127.0.0.1:5000/"]) == [
        "https://ehr.test",
        "http://127.0.0.1:5000",
    ]
    assert "ignoring" in caplog.text


def test_a_configured_wildcard_or_injection_never_reaches_the_csp() -> None:
    app = create_app(
        {
            "SMART_EDU_DATABASE_URL": "sqlite://",
            "SMART_EDU_FRAME_ANCESTORS": "https://ehr.test; script-src * https://*.epic.test",
        }
    )
    csp = app.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert csp.endswith("frame-ancestors 'self' https://*.epic.test")
    assert "script-src *" not in csp


def access_line(path: str, query: str = "") -> str:
    cfg = Config()
    cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s')
    resp = types.SimpleNamespace(status="200 OK", response_length=1, sent=1, headers=[])
    req = types.SimpleNamespace(headers=[("COOKIE", "smart_edu_bind=SECRET")])
    environ = {"REMOTE_ADDR": "10.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": f"{path}?{query}",
               "PATH_INFO": path, "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1"}  # fmt: skip
    atoms = RedactingLogger(cfg).atoms(resp, req, environ, datetime.timedelta(seconds=0.01))
    return str(cfg.access_log_format % atoms)


def test_the_access_log_shows_no_launch_handle_nor_query() -> None:
    line = access_line("/s/Hk3-secretHandle_x/review", "draft=1")
    assert line == '10.0.0.1 "GET /s/…/review" 200'
    assert access_line("/callback", "code=CODE&state=STATE") == '10.0.0.1 "GET /callback" 200'


def test_serve_warns_about_an_open_cds_endpoint_and_a_host_derived_base_url() -> None:
    warnings = deployment_warnings(load_settings(environ={}))
    assert any("SMART_EDU_BASE_URL" in w for w in warnings)
    assert any("SMART_EDU_CDS_CLIENTS" in w for w in warnings)
    configured = {"SMART_EDU_BASE_URL": "https://app.example.org", "SMART_EDU_CDS_CLIENTS": "cds.toml"}
    assert deployment_warnings(load_settings(environ=configured)) == []
