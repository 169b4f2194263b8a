"""Structured logs read back as an operator's log pipeline reads them: every line one JSON object with time,
level, event and the request's id and route template; the launch, refresh, write-back, outbox and CDS events
are there; no line holds a launch handle, a token, the authorization code, note text or the patient's name."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask

from smart_app import logs
from smart_app.point_of_care import context as document_context
from tests.http.document_kit import FakeEhr, app_for, commercial_diabetes, csrf_of, launched
from tests.http.test_cds_hooks import DM, hook_request, seeded_prefetch
from tests.http.test_document_sign import SESSION, review, sign_form

SECRETS = ("at-1", "rt-1", "code-1", "launch-abc", "Dana Diabetes", "Teach-back correct", "Healthy eating")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The JSON handler ``serve`` installs, writing into a buffer instead of stderr."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("json", stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    document_context.forget()
    return app_for(tmp_path)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    out = []
    for raw in stream.getvalue().splitlines():
        line = json.loads(raw)  # every line parses alone: one object per line
        assert isinstance(line, dict)
        assert {"time", "level", "event", "logger"} <= line.keys(), line
        assert datetime.fromisoformat(line["time"].replace("Z", "+00:00")).utcoffset() is not None
        out.append(line)
    return out


def events(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in found if line["event"] == name]


def assert_nothing_secret(stream: io.StringIO, *more: str) -> None:
    text = stream.getvalue()
    for secret in (*SECRETS, *more):
        assert secret not in text, secret


def test_a_launch_a_live_check_and_a_signature_log_structured_events(
    app: Flask, rsps: responses.RequestsMock, log_stream: io.StringIO
) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr, expires_in=30)  # inside the refresh margin: refreshed at once
    token = csrf_of(client.get(f"/s/{handle}/").get_data(as_text=True))
    check = client.post(f"/s/{handle}/evaluate", data=SESSION, headers={"X-CSRF-Token": token})
    assert check.status_code == 200
    signed = client.post(f"/s/{handle}/sign", data=sign_form(review(client, handle)))
    assert signed.status_code == 303
    found = lines(log_stream)

    requests_seen = events(found, "request")
    routes = {(r["method"], r["route"]) for r in requests_seen}
    assert {("GET", "/launch"), ("GET", "/callback"), ("POST", "/s/<handle>/evaluate")} <= routes
    assert ("POST", "/s/<handle>/sign") in routes
    for r in requests_seen:
        assert isinstance(r["status"], int) and isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0
        assert re.fullmatch(r"[0-9a-f]{32}", r["request_id"])
    assert check.headers["X-Request-Id"] in {r["request_id"] for r in requests_seen}

    start = events(found, "launch.start")
    assert start and start[0]["outcome"] == "redirected" and start[0]["launch_type"] == "ehr"
    callback = events(found, "launch.callback")
    assert callback and callback[0]["outcome"] == "active" and callback[0]["route"] == "/callback"
    assert any(e["outcome"] == "ok" for e in events(found, "token.refresh"))
    attempt, result = events(found, "writeback.write-attempt"), events(found, "writeback.write-result")
    assert attempt and result and result[-1]["outcome"] == "written"
    assert result[-1]["strategy"] == attempt[-1]["strategy"] and result[-1]["route"] == "/s/<handle>/sign"
    assert len({e["request_id"] for e in [*attempt, *result]}) == 1  # the sign request's id on each
    assert_nothing_secret(log_stream, handle)


def test_a_failed_write_logs_the_outbox_and_the_retry(
    app: Flask, rsps: responses.RequestsMock, log_stream: io.StringIO
) -> None:
    ehr = FakeEhr(commercial_diabetes(), fail_next_writes=10)
    client, handle = launched(app, rsps, ehr)
    token = csrf_of(client.get(f"/s/{handle}/").get_data(as_text=True))
    client.post(f"/s/{handle}/evaluate", data=SESSION, headers={"X-CSRF-Token": token})
    client.post(f"/s/{handle}/sign", data=sign_form(review(client, handle)))
    found = lines(log_stream)
    queued = events(found, "outbox.enqueue")
    assert queued and queued[0]["level"] == "warning" and queued[0]["http_status"] == 503
    assert events(found, "writeback.write-result")[-1]["outcome"] == "queued-in-outbox"
    assert_nothing_secret(log_stream, handle, "Database unavailable")


def test_a_refused_refresh_is_logged_as_failed(
    app: Flask, rsps: responses.RequestsMock, log_stream: io.StringIO
) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()), expires_in=30)
    rsps.replace(responses.POST, "https://ehr.test/auth/token", json={"error": "invalid_grant"}, status=400)
    client.get(f"/s/{handle}/")
    failed = [e for e in events(lines(log_stream), "token.refresh") if e["outcome"] == "failed"]
    assert failed and failed[0]["level"] == "warning" and failed[0]["profile"]
    assert_nothing_secret(log_stream, handle)


def test_an_incoming_request_id_is_kept_and_a_forged_one_replaced(
    app: Flask, log_stream: io.StringIO
) -> None:
    client = app.test_client()
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.2026:01"})
    assert kept.headers["X-Request-Id"] == "lb-7f3a.2026:01"
    forged = client.get("/healthz", headers={"X-Request-Id": 'x" injected {"level":"error"}'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-Id"])
    ids = [r["request_id"] for r in events(lines(log_stream), "request")]
    assert ids == ["lb-7f3a.2026:01", forged.headers["X-Request-Id"]]


def test_cds_calls_are_logged_with_service_and_outcome(tmp_path: Path, log_stream: io.StringIO) -> None:
    from tests.http.test_cds_hooks import make_app

    app = make_app(tmp_path)
    logs.init_app(app)
    client = app.test_client()
    answered = client.post(
        "/cds-services/patient-view", json=hook_request("patient-view", *DM, seeded_prefetch(*DM))
    )
    refused = client.post("/cds-services/patient-view", data="[" * 5000, content_type="application/json")
    assert answered.status_code == 200 and refused.status_code == 400
    calls = events(lines(log_stream), "cds.call")
    assert [c["outcome"] for c in calls] == ["answered", "refused"]
    assert calls[0]["service"] == "patient-view" and calls[0]["cards"] == len(answered.json["cards"])
    assert calls[1]["status"] == 400 and "nested deeper" in calls[1]["reason"]
    assert_nothing_secret(log_stream, "hook-token-123", DM[0])


def test_an_unhandled_error_is_one_json_line_with_a_redacted_traceback(
    app: Flask, log_stream: io.StringIO
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/s/<handle>/boom")
    def boom(handle: str) -> str:
        raise RuntimeError(f"failed for /s/{handle}/x with Bearer abc.def and access_token=at-1")

    resp = app.test_client().get("/s/SECRET-HANDLE-1/boom")
    assert resp.status_code == 500
    found = lines(log_stream)
    errors = [line for line in found if line["level"] == "error"]
    assert errors and any("RuntimeError" in line.get("exception", "") for line in errors)
    assert events(found, "request")[-1]["status"] == 500
    assert_nothing_secret(log_stream, "SECRET-HANDLE-1", "abc.def")


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("GET /s/h4nd1e-xyz/sign", "h4nd1e-xyz"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ("/callback?code=abc123&state=st4te", "abc123"),
        ("/callback?code=abc123&state=st4te", "st4te"),
        ('{"access_token": "at-9", "x": 1}', "at-9"),
        ("token eyJhbGciOiJSUzM4NCJ9.eyJzdWIiOiJ4In0.c2ln", "eyJzdWIiOiJ4In0"),
        ("/launch/proceed?s=0123abcd", "0123abcd"),
    ],
)
def test_the_redaction_filter_hides_what_slips_into_a_message(text: str, hidden: str) -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.redaction")
    logger.setLevel(logging.INFO)
    handler = logs.prepare_handler(logging.StreamHandler(stream), "json")
    logger.addHandler(handler)
    try:
        logger.warning("seen: %s", text)
        logs.event(logger, "probe", handle="h-1", access_token="at-1", note="Teach-back correct", detail=text)
    finally:
        logger.removeHandler(handler)
    assert hidden not in stream.getvalue() and "h-1" not in stream.getvalue()
    assert "Teach-back" not in stream.getvalue()
    message, probe = (json.loads(raw) for raw in stream.getvalue().splitlines())
    assert message["event"] == "log" and message["message"].startswith("seen: ")
    assert probe["handle"] == probe["access_token"] == probe["note"] == logs.HIDDEN


def test_text_format_has_the_same_fields_on_one_line() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.text")
    logger.setLevel(logging.INFO)
    handler = logs.prepare_handler(logging.StreamHandler(stream), "text")
    logger.addHandler(handler)
    try:
        logs.event(logger, "writeback.write-result", outcome="written", strategy="transaction", note="x y")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().strip()
    assert "\n" not in line and " INFO writeback.write-result " in line
    assert "outcome=written strategy=transaction note=…" in line
