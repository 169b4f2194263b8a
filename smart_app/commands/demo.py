"""``smart-edu demo``: the sandbox EHR and the app on loopback, wired together, until Ctrl-C or SIGTERM.

This command is the one place in ``smart_app`` that loads ``sandbox_ehr`` (lazily, by name): the app itself
never depends on the sandbox. werkzeug's threaded server is fine for a demo; real use is ``smart-edu serve``.
"""

from __future__ import annotations

import argparse
import importlib
import secrets
import shlex
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from smart_app import create_app, demo_state
from smart_app.settings import provide_secret

LOOPBACK = "127.0.0.1"


def _sandbox() -> tuple[Any, Any, Any, Any]:
    names = ("sandbox_ehr.app", "sandbox_ehr.config", "sandbox_ehr.server", "sandbox_ehr.wiring")
    return tuple(importlib.import_module(n) for n in names)  # type: ignore[return-value]


def _signing_key(data_dir: Path) -> str:
    """The sandbox's id_token key, created once per data dir (owner-only file) so tokens survive a restart."""
    from joserfc.jwk import RSAKey

    path = data_dir / "sandbox-signing-key.pem"
    if not path.exists():
        pem = RSAKey.generate_key(2048, private=True).as_pem(private=True)
        path.touch(mode=0o600)
        path.write_bytes(pem)
    return path.read_text(encoding="utf-8")


def _backend_key(data_dir: Path) -> tuple[str, dict[str, Any]]:
    """The scrub's backend-services key (EC P-384, ES384), created once per data dir (owner-only file):
    returns the PEM and the public JWK the sandbox registers."""
    from joserfc.jwk import ECKey

    path = data_dir / "scrub-backend-key.pem"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_bytes(ECKey.generate_key("P-384", private=True).as_pem(private=True))
    pem = path.read_text(encoding="utf-8")
    return pem, dict(ECKey.import_key(pem).as_dict(private=False))


def scrub_command(fhir_base: str, profiles: Path, key_file: Path, period: tuple[str, str]) -> str:
    """The exact ``smart-edu scrub`` line for the demo's seeded month, with the variables it needs."""
    return (
        f"SMART_EDU_LAUNCH_CONFIG={shlex.quote(str(profiles))} "
        f'SMART_EDU_SANDBOX_BACKEND_KEY="$(cat {shlex.quote(str(key_file))})" '
        f"{_smart_edu()} scrub --fhir-base {fhir_base} --profile sandbox "
        f"--since {period[0]} --until {period[1]}"
    )


def _smart_edu() -> str:
    """This installation's ``smart-edu`` (``make demo`` runs it from .venv, which need not be on PATH)."""
    beside = Path(sys.executable).with_name("smart-edu")
    return shlex.quote(str(beside)) if beside.exists() else "smart-edu"


def run(args: argparse.Namespace) -> int:
    """Run in ``--data-dir`` (kept) or in a fresh temporary folder, removed at the end even on failure.

    Ctrl-C and SIGTERM are caught from the very start (before anything is printed), so a stop at any moment
    ends the demo cleanly: servers stopped, the state file and a temporary folder removed."""
    server = importlib.import_module("sandbox_ehr.server")
    stop = server.install_stop_handlers()
    _logging()
    if args.data_dir:
        data_dir = Path(args.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        return _run(args, data_dir, stop)
    temporary = Path(tempfile.mkdtemp(prefix="smart-edu-demo-"))
    try:
        return _run(args, temporary, stop)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _logging() -> None:
    """Text logs on stderr (``SMART_EDU_LOG_FORMAT`` may ask for JSON): the app's events, not a line per
    request (the live check would print one per pause in typing)."""
    import logging

    from smart_app import logs
    from smart_app.settings import load_settings

    logs.configure(load_settings().log_format or "text")
    logging.getLogger("smart_app.request").setLevel(logging.WARNING)


def _run(args: argparse.Namespace, data_dir: Path, stop: threading.Event) -> int:
    sandbox_app, sandbox_config, server, wiring = _sandbox()
    # Loopback only: the sandbox has no passwords, and the two sites (localhost, 127.0.0.1) are what make
    # the framed app meet real third-party-cookie rules (docs/sandbox.md).
    app_listener = server.ServerThread(LOOPBACK, args.app_port)
    ehr_listener = server.ServerThread(LOOPBACK, args.ehr_port)
    ehr_base = wiring.ehr_base_url(ehr_listener.port)
    app_base = wiring.app_base_url(app_listener.port)

    secret = secrets.token_urlsafe(32)
    provide_secret(wiring.SECRET_ENV, secret)
    backend_pem, backend_jwk = _backend_key(data_dir)
    provide_secret(wiring.BACKEND_KEY_ENV, backend_pem)
    config = sandbox_config.SandboxConfig(
        base_url=ehr_base,
        database=str(data_dir / "sandbox.sqlite3"),
        signing_key_pem=_signing_key(data_dir),
        clients=[wiring.app_client(app_base, secret), wiring.scrub_client(backend_jwk)],
        seed_month=True,
    )
    profiles = data_dir / "launch_config"
    wiring.write_launch_profile(profiles, config.fhir_base, frame_ancestors=(ehr_base,), backend=True)
    store_url = f"sqlite:///{data_dir / 'app.sqlite3'}"
    app = create_app({
        "SMART_EDU_LAUNCH_CONFIG": str(profiles),
        "SMART_EDU_DATABASE_URL": store_url,
        "SMART_EDU_SECRET_KEY": secrets.token_hex(32),
        "SMART_EDU_BASE_URL": app_base,
    })  # fmt: skip
    ehr_listener.serve(sandbox_app.create_sandbox_app(config))
    app_listener.serve(app)
    state = demo_state.record(store_url)
    try:
        print(f"Sandbox EHR launcher: {config.base_url}/", flush=True)
        print(f"FHIR base (iss):      {config.fhir_base}", flush=True)
        print(f"App:                  {app_base}   (data in {data_dir})", flush=True)
        print(f"App store:            {store_url}", flush=True)
        print("  (smart-edu audit and smart-edu outbox read it while the demo runs; afterwards:)", flush=True)
        print(f"  SMART_EDU_DATABASE_URL={shlex.quote(store_url)} {_smart_edu()} audit", flush=True)
        print("Pre-bill scrub of the seeded month (March 2026), from another terminal:", flush=True)
        key_file = data_dir / "scrub-backend-key.pem"
        print("  " + scrub_command(config.fhir_base, profiles, key_file, wiring.SEED_MONTH), flush=True)
        print("Open the launcher, pick a patient and press 'EHR launch'. Ctrl-C stops both.", flush=True)
        server.wait_for_stop(stop)
    finally:
        demo_state.forget(state)
        app_listener.stop()
        ehr_listener.stop()
    print("stopped", flush=True)
    return 0
