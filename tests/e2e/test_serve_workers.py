"""Fork safety (issue 10): ``smart-edu serve --workers 2`` on PostgreSQL builds the app (and its engine) in
the gunicorn master before it forks; no database connection may cross the fork. Three restarts, each under 40
launches released together, plus a worker killed and re-forked: no 500, no hang, no traceback on stderr.

Before the fix both workers used the master's pooled connection: ``unexpected result EMPTY_QUERY``,
``prepared statement "_pg3_N" already exists``, ``server closed the connection unexpectedly``."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import requests

from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import app_client, ehr_base_url, write_launch_profile
from tests.e2e import postgres_kit
from tests.e2e.clinician_kit import storm
from tests.e2e.serve_kit import Serve, serve_env, upgrade

pytestmark = pytest.mark.e2e
RESTARTS, LAUNCHES = 3, 40


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = postgres_kit.missing()
    if reason:
        pytest.skip(reason)
    with postgres_kit.cluster() as url:
        yield url


def launch(base: str, iss: str, n: int) -> int | str:
    """One EHR launch's first step (discovery, a launch record written, the redirect to authorize)."""
    try:
        resp = requests.get(f"{base}/launch", params={"iss": iss, "launch": f"l-{n}"}, timeout=30,
                            allow_redirects=False)  # fmt: skip
    except requests.RequestException as exc:  # a hang (timeout) or a dropped connection
        return type(exc).__name__
    return resp.status_code


def test_serve_with_two_workers_on_postgresql_survives_restarts_under_load(
    pg_url: str, tmp_path: Path
) -> None:
    port = postgres_kit.free_port()
    base = f"http://127.0.0.1:{port}"
    ehr = ServerThread("127.0.0.1", 0)
    secret = secrets.token_urlsafe(16)
    config = SandboxConfig(base_url=ehr_base_url(ehr.port), clients=[app_client(base, secret)])
    ehr.serve(create_sandbox_app(config))
    profiles = write_launch_profile(tmp_path / "profiles", config.fhir_base).parent
    env = serve_env(database_url=pg_url, profiles=profiles, base_url=base, secret_key=secrets.token_hex(32),
                    client_secret=secret)  # fmt: skip
    upgrade(env)  # the deploy step (docs/deployment.md), before any instance starts
    answers: list[int | str] = []
    server = Serve(port, env, workers=2, log=tmp_path / "serve.log")
    try:
        for restart in range(RESTARTS):
            server.start()
            answers += storm([partial(launch, base, config.fhir_base, n) for n in range(LAUNCHES)])
            if restart == RESTARTS - 1:  # a worker dies (OOM, a crash): the master forks a new one
                worker = _a_worker(server)
                os.kill(worker, signal.SIGKILL)
                answers += storm([partial(launch, base, config.fhir_base, n) for n in range(LAUNCHES)])
            answers += [requests.get(f"{base}/healthz", timeout=30).status_code for _ in range(5)]
            server.stop()
    finally:
        server.stop()
        ehr.stop()
    log = server.stderr()
    wrong = [a for a in answers if a not in (302, 200)]
    assert wrong == [], (
        f"{len(wrong)} of {len(answers)} requests failed: {sorted(map(str, wrong))}\n{log[-3000:]}"
    )
    broken = (
        "Traceback",
        "EMPTY_QUERY",
        "already exists",
        "closed the connection",
        "[CRITICAL]",
        "WORKER TIMEOUT",
    )
    assert [b for b in broken if b in log] == [], log[-3000:]


def _a_worker(server: Serve) -> int:
    """The pid of one of the master's workers (its children)."""
    assert server.process is not None
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    assert children, "the master has no workers"
    return int(children[0])
