"""``smart-edu demo`` as a new user runs it: the command, then the printed URL, then a stop with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests


@pytest.mark.e2e
def test_demo_starts_both_servers_prints_the_launcher_and_stops_cleanly(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "from smart_app.cli import main; raise SystemExit(main())", "demo",
           "--data-dir", str(tmp_path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        while not any("Ctrl-C" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "demo exited early:\n" + "".join(lines)
            lines.append(line)
        text = "".join(lines)
        launcher = re.search(r"launcher: (http://localhost:\d+/)", text)
        app = re.search(r"App:\s+(http://127\.0\.0\.1:\d+)", text)
        assert launcher and app, text
        page = requests.get(launcher.group(1), timeout=10)
        assert page.status_code == 200 and "edu-dm-commercial" in page.text
        conf = requests.get(f"{launcher.group(1)}fhir/.well-known/smart-configuration", timeout=10).json()
        assert conf["code_challenge_methods_supported"] == ["S256"]
        assert requests.get(f"{app.group(1)}/healthz", timeout=10).status_code == 200
        profile = (tmp_path / "launch_config" / "sandbox.toml").read_text()
        assert f'iss = "{launcher.group(1)}fhir"' in profile and "client_secret_env" in profile
        assert "secret =" not in profile
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "stopped" in out


@pytest.mark.e2e
def test_sandbox_runs_alone_in_open_mode() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sandbox_ehr", "--open"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline() + proc.stdout.readline()
        base = re.search(r"FHIR base:\s+(http://localhost:\d+/fhir)", first)
        assert base, first
        resp = requests.get(f"{base.group(1)}/Patient/edu-dm-commercial", timeout=10)
        assert resp.status_code == 200 and resp.json()["name"][0]["family"] == "Delgado"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


@pytest.mark.e2e
def test_demo_without_data_dir_removes_its_temporary_folder_on_stop(tmp_path: Path) -> None:
    """Each run without ``--data-dir`` makes a fresh ``smart-edu-demo-*`` folder; stopping removes it."""
    cmd = [sys.executable, "-c", "from smart_app.cli import main; raise SystemExit(main())", "demo"]
    env = os.environ | {"TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any("Ctrl-C" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "demo exited early:\n" + "".join(lines)
            lines.append(line)
        found = re.search(r"\(data in (.+)\)", "".join(lines))
        assert found, lines
        data_dir = Path(found.group(1))
        assert data_dir.parent == tmp_path and data_dir.name.startswith("smart-edu-demo-")
        assert (data_dir / "app.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_demo_keeps_a_data_dir_it_was_given(tmp_path: Path) -> None:
    """A ``--data-dir`` is the user's: its keys and data survive the stop (so tokens survive restarts)."""
    cmd = [sys.executable, "-c", "from smart_app.cli import main; raise SystemExit(main())", "demo",
           "--data-dir", str(tmp_path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        while "Ctrl-C" not in (line := proc.stdout.readline()):
            assert line, "demo exited early"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert (tmp_path / "sandbox-signing-key.pem").exists() and (tmp_path / "app.sqlite3").exists()


def _started(proc: subprocess.Popen[str]) -> str:
    """Everything the demo printed up to its "Ctrl-C stops both." line."""
    assert proc.stdout is not None
    lines: list[str] = []
    while not any("Ctrl-C" in line for line in lines):
        line = proc.stdout.readline()
        assert line, "demo exited early:\n" + "".join(lines)
        lines.append(line)
    return "".join(lines)


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_the_moment_the_demo_says_ctrl_c_stops_it_cleanly(tmp_path: Path, sig: int) -> None:
    """The handlers are installed before the line is printed: a stop right after it is clean, every trial."""
    for trial in range(4):
        data = tmp_path / f"t{trial}"
        cmd = [sys.executable, "-c", "from smart_app.cli import main; raise SystemExit(main())", "demo",
               "--data-dir", str(data)]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            _started(proc)
            proc.send_signal(sig)  # no pause: the race the old order lost
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 0, (trial, out)
        assert "stopped" in out and "Traceback" not in out, (trial, out)
        assert (data / "app.sqlite3").exists()


@pytest.mark.e2e
def test_audit_and_outbox_read_the_running_demos_store_and_the_banner_names_it(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "from smart_app.cli import main; raise SystemExit(main())", "demo",
           "--data-dir", str(tmp_path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if k != "SMART_EDU_DATABASE_URL"}
    script = Path(sys.executable).parent / "smart-edu"
    try:
        banner = _started(proc)
        assert f"App store:            {store}" in banner
        assert f"SMART_EDU_DATABASE_URL={store} " in banner and "smart-edu audit" in banner
        for command in (["audit"], ["outbox", "list"]):
            done = subprocess.run(
                [str(script), *command], env=env, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
            assert f"store {store} (the running smart-edu demo's)" in done.stderr.splitlines()[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    after = subprocess.run([str(script), "audit"], env=env, capture_output=True, text=True, timeout=60)
    assert "the running smart-edu demo's" not in after.stderr  # the state file went with the demo
