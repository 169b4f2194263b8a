"""`smart-edu serve` logs as an operator's pipeline reads them: every stderr line (gunicorn's own included)
one JSON object; each request one `request` line with its route template and the id echoed to the client; no
line names a launch handle, the authorization code, the state or a token. `SMART_EDU_LOG_FORMAT=text` gives
the same events as text."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from smart_app import logs
from tests.http.test_launch_serve import SERVE, free_port

HANDLE = "Zq9-secret-handle-Hx2"


def serve(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    environ = os.environ | {
        "HOME": str(tmp_path),
        "SMART_EDU_SECRET_KEY": "k" * 64,
        "SMART_EDU_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}",
        **env,
    }
    proc = subprocess.Popen([*SERVE, "--port", str(port), "--workers", "2"], env=environ, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(f"{base}/healthz", timeout=1)
            return proc, base
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(proc.communicate()[1])


def traffic(base: str) -> dict[str, requests.Response]:
    return {
        "health": requests.get(f"{base}/healthz", headers={"X-Request-Id": "lb-0001"}, timeout=10),
        "handle": requests.get(f"{base}/s/{HANDLE}/review", timeout=10),
        "callback": requests.get(
            f"{base}/callback", params={"code": "c0de-SECRET", "state": "st-SECRET"}, timeout=10
        ),
        "cds": requests.post(
            f"{base}/cds-services/patient-view",
            data="[" * 3000,
            timeout=10,
            headers={"Content-Type": "application/json"},
        ),
    }


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    return err


def test_serve_writes_one_json_object_per_line(tmp_path: Path) -> None:
    proc, base = serve(tmp_path)
    try:
        answers = traffic(base)
    finally:
        err = stop(proc)
    found: list[dict[str, Any]] = [json.loads(line) for line in err.splitlines()]  # every line is JSON
    assert all({"time", "level", "event", "logger"} <= line.keys() for line in found)
    assert any(
        line["logger"] == "gunicorn.error" and "Booting worker" in line.get("message", "") for line in found
    )
    assert any(line["event"] == "serve.warning" for line in found)
    requests_seen = [line for line in found if line["event"] == "request"]
    by_id = {line["request_id"]: line for line in requests_seen}
    assert by_id["lb-0001"]["route"] == "/healthz" and by_id["lb-0001"]["status"] == 200
    assert answers["health"].headers["X-Request-Id"] == "lb-0001"
    handle_line = by_id[answers["handle"].headers["X-Request-Id"]]
    assert handle_line["route"] == "/s/<handle>/review" and handle_line["method"] == "GET"
    assert by_id[answers["cds"].headers["X-Request-Id"]]["status"] == 400
    assert all(isinstance(line["duration_ms"], float) for line in requests_seen)
    for secret in (HANDLE, "c0de-SECRET", "st-SECRET"):
        assert secret not in err


def test_text_format_on_request(tmp_path: Path) -> None:
    proc, base = serve(tmp_path, SMART_EDU_LOG_FORMAT="text")
    try:
        traffic(base)
    finally:
        err = stop(proc)
    assert not err.lstrip().startswith("{")
    assert re.search(
        r" INFO request request_id=[0-9a-f]{32} route=/s/<handle>/review method=GET status=404 ", err
    )
    assert HANDLE not in err and "c0de-SECRET" not in err


def test_gunicorns_error_log_goes_through_the_redaction_filter() -> None:
    from gunicorn.config import Config

    from smart_app.commands.serve import logger_class

    glog = logger_class("json")(Config())
    record = logging.LogRecord(
        "gunicorn.error", logging.ERROR, __file__, 1, "Error handling /s/%s/sign", (HANDLE,), None
    )
    handlers = glog.error_log.handlers
    assert handlers and all(any(isinstance(f, logs.Redactor) for f in h.filters) for h in handlers)
    line = json.loads(handlers[0].format(record) if handlers[0].filter(record) else "{}")
    assert line["message"] == "Error handling /s/…/sign" and line["logger"] == "gunicorn.error"
