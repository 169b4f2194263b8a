"""Shared end-to-end fixtures: the sandbox EHR and the app on loopback, and a real Chromium.

- ``sandbox``: the sandbox EHR on a free port, seeded; EHR pages and FHIR at ``http://localhost:PORT``.
  Helpers: ``.fhir_base``, ``.launcher_url``, ``.fault(**spec)``, ``.clear_faults()``, ``.get(path)``,
  ``.resources(query)``, ``.ehr_launch_url(...)``, ``.reset()``.
- ``clean_sandbox``: the same sandbox, reset to its seed (no tokens, no faults) before the test.
- ``app_server``: the app (``smart_app.create_app``) on another free port at ``http://127.0.0.1:PORT``, with a
  launch profile for the sandbox; ``.base_url``, ``.app``.
- ``browser`` / ``page``: Playwright driving Debian's chromium, headless; each test's last screen is saved
  under ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from sandbox_ehr.app import SandboxState, create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.faults import Fault
from sandbox_ehr.scopes import Access
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import (
    APP_CLIENT_ID,
    SECRET_ENV,
    app_base_url,
    app_client,
    ehr_base_url,
    write_launch_profile,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@dataclass
class SandboxHandle:
    """A running sandbox EHR and helpers to steer and inspect it from tests."""

    server: ServerThread
    config: SandboxConfig
    client_secret: str

    @property
    def state(self) -> SandboxState:
        state = self.server.app.extensions["sandbox"]
        assert isinstance(state, SandboxState)
        return state

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def fhir_base(self) -> str:
        return self.config.fhir_base

    @property
    def launcher_url(self) -> str:
        return f"{self.base_url}/"

    def ehr_launch_url(
        self,
        patient: str,
        *,
        practitioner: str = "rn-okafor",
        encounter: str | None = None,
        frame: bool = True,
    ) -> str:
        """The EHR page framing the app (or with ``frame=False`` the app's own launch URL) for a patient."""
        args = {"client_id": APP_CLIENT_ID, "practitioner": practitioner, "patient": patient}
        if encounter:
            args["encounter"] = encounter
        if not frame:
            args["frame"] = "0"
        return f"{self.base_url}/launcher?{urlencode(args)}"

    def fault(self, **spec: Any) -> Fault:
        """Add a fault (keys of sandbox_ehr.faults.Fault), e.g. ``fault(status=503, times=1)``."""
        return self.state.faults.add(**spec)

    def expire_access_tokens(self) -> int:
        """End every live access token now (the app must refresh, or relaunch if refresh is refused)."""
        return self.state.tokens.expire_access_tokens()

    def tokens_issued(self, grant_type: str | None = None) -> int:
        return len(self.state.tokens.issued(grant_type=grant_type))

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def get(self, path: str) -> dict[str, Any] | None:
        """Read back ``Type/id`` or a search (``Type?param=value``) past the auth layer; None when 404."""
        result = self.state.rest.execute(Access(open=True), "GET", path)
        if result.status == 404:
            return None
        assert result.status == 200, result.body
        return result.body

    def resources(self, query: str) -> list[dict[str, Any]]:
        """All resources a search matches (every page)."""
        sep = "&" if "?" in query else "?"
        bundle = self.get(f"{query}{sep}_count=500") or {}
        return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]

    def reset(self) -> None:
        self.state.reset()


@dataclass
class AppHandle:
    server: ServerThread
    base_url: str

    @property
    def app(self) -> Any:
        return self.server.app


@pytest.fixture(scope="session")
def _app_listener() -> Iterator[ServerThread]:
    """The app's port is taken first so the sandbox can register the app's redirect URI."""
    listener = ServerThread("127.0.0.1", 0)
    yield listener
    listener.stop()


@pytest.fixture(scope="session")
def sandbox(_app_listener: ServerThread) -> Iterator[SandboxHandle]:
    secret = secrets.token_urlsafe(32)
    server = ServerThread("127.0.0.1", 0)
    config = SandboxConfig(
        base_url=ehr_base_url(server.port),
        clients=[app_client(app_base_url(_app_listener.port), secret)],
    )
    server.serve(create_sandbox_app(config))
    yield SandboxHandle(server, config, secret)
    server.stop()


@pytest.fixture
def clean_sandbox(sandbox: SandboxHandle) -> SandboxHandle:
    sandbox.reset()
    return sandbox


@pytest.fixture(scope="session")
def app_server(
    sandbox: SandboxHandle, _app_listener: ServerThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppHandle]:
    from smart_app import create_app

    data = tmp_path_factory.mktemp("app")
    profiles = data / "launch_config"
    write_launch_profile(profiles, sandbox.fhir_base, frame_ancestors=(sandbox.base_url,))
    previous = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = sandbox.client_secret
    base = app_base_url(_app_listener.port)
    app = create_app({
        "TESTING": True,
        "SMART_EDU_LAUNCH_CONFIG": str(profiles),
        "SMART_EDU_DATABASE_URL": f"sqlite:///{data / 'app.sqlite3'}",
        "SMART_EDU_SECRET_KEY": secrets.token_hex(32),
        "SECRET_KEY": secrets.token_hex(32),
        "SMART_EDU_BASE_URL": base,
    })  # fmt: skip
    _app_listener.serve(app)
    yield AppHandle(_app_listener, base)
    if previous is None:
        os.environ.pop(SECRET_ENV, None)
    else:
        os.environ[SECRET_ENV] = previous


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: run `make browser` (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh browser context (an empty profile: no cookies, no storage); the final screen is
    saved as test-artifacts/<test>.png."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
