"""`smart-edu serve`: refuses to start without a secret key; with one, gunicorn serves the app on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

SERVE = [sys.executable, "-m", "smart_app.cli", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SMART_EDU_SECRET_KEY"}
    done = subprocess.run(SERVE, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "SMART_EDU_SECRET_KEY is not set" in done.stderr


def test_serve_runs_the_app_under_gunicorn(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "HOME": str(tmp_path),  # where gunicorn 27 would put its control socket (~/.gunicorn/gunicorn.ctl)
        "SMART_EDU_SECRET_KEY": "k" * 64,
        "SMART_EDU_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}",
    }
    proc = subprocess.Popen([*SERVE, "--port", str(port), "--workers", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        body = None
        for _ in range(100):
            try:
                body = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert body == {"status": "ok", "profiles": 4}
        refused = requests.get(f"http://127.0.0.1:{port}/launch", params={"iss": "https://x.test"}, timeout=5)
        assert refused.status_code == 400
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert "gunicorn" in output.lower() or "Booting worker" in output
    assert "iss=" not in output  # query strings stay out of the access log
    # No control socket: a second `smart-edu serve` on the machine would silently take over the first's.
    assert not (tmp_path / ".gunicorn").exists()
