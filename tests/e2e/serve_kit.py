"""``smart-edu serve`` as a real deployment runs it, for end-to-end tests: gunicorn with its workers in a
process of its own, the sandbox EHR's launch profile, a shared store; started, probed, stopped, and its stderr
kept so a test can assert that no traceback was printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from sandbox_ehr.wiring import SECRET_ENV

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Serve:
    """One ``smart-edu serve`` process (the gunicorn master and its workers)."""

    port: int
    env: dict[str, str]
    workers: int = 2
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    stderr_seen: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Serve:
        assert self.log is not None
        argv = [*smart_edu(), "serve", "--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as err:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited {self.process.returncode}: {self.stderr()}"
            try:
                if requests.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not answer /healthz within {timeout}s: {self.stderr()}")

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), SIGKILL to the whole group if it does not end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stderr(self) -> str:
        return (
            self.log.read_text(encoding="utf-8", errors="replace") if self.log and self.log.exists() else ""
        )


def smart_edu() -> list[str]:
    """The installed console script (as an operator runs it), else the module."""
    script = Path(sys.executable).with_name("smart-edu")
    return [str(script)] if script.exists() else [sys.executable, "-m", "smart_app.cli"]


def serve_env(
    *, database_url: str, profiles: Path, base_url: str, secret_key: str, client_secret: str
) -> dict[str, str]:
    """The environment of a deployed instance (every instance the same: state is in the store)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("SMART_EDU_")}
    return keep | {
        "PYTHONPATH": str(ROOT),
        "SMART_EDU_DATABASE_URL": database_url,
        "SMART_EDU_LAUNCH_CONFIG": str(profiles),
        "SMART_EDU_BASE_URL": base_url,
        "SMART_EDU_SECRET_KEY": secret_key,
        SECRET_ENV: client_secret,
    }


def upgrade(env: dict[str, str]) -> None:
    """The deploy step: ``smart-edu db upgrade`` (``serve`` refuses a PostgreSQL store that is behind)."""
    argv = [*smart_edu(), "db", "upgrade"]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
