"""``smart-edu demo`` out of the box for the biller (issue 13): it registers the scrub's backend client, seeds
the month, writes the ``[backend]`` table and prints the exact scrub command; what that command names (the
profile folder, the key variable, the FHIR base, the profile, the period) really exports the seeded month."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from smart_app.bulk import fetch_to_directory
from smart_app.profiles import load_profiles

COMMAND = re.compile(
    r"SMART_EDU_LAUNCH_CONFIG=(\S+) SMART_EDU_SANDBOX_BACKEND_KEY=\"\$\(cat (\S+)\)\" \S*smart-edu scrub "
    r"--fhir-base (\S+) --profile (\S+) --since (\S+) --until (\S+)"
)


@pytest.mark.e2e
def test_demo_prints_a_scrub_command_whose_pieces_export_the_seeded_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "demo"
    cmd = [sys.executable, "-c", "from smart_app.cli import main; raise SystemExit(main())", "demo",
           "--data-dir", str(data)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        while not any("Ctrl-C" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "demo exited early:\n" + "".join(lines)
            lines.append(line)
        found = COMMAND.search("".join(lines))
        assert found, "".join(lines)
        profiles, key_file, fhir_base, name, since, until = found.groups()
        assert Path(shlex.split(profiles)[0]) == data / "launch_config"
        assert (since, until) == ("2026-03-01", "2026-03-31")
        assert (Path(key_file).stat().st_mode & 0o077) == 0  # the key file is the owner's only
        monkeypatch.setenv("SMART_EDU_SANDBOX_BACKEND_KEY", Path(key_file).read_text())
        profile = load_profiles(profiles).by_name(name)
        assert profile is not None and profile.backend is not None and profile.iss == fhir_base
        result = fetch_to_directory(fhir_base, profile, None, None, None, tmp_path / "out")
        assert result.method == "bulk" and result.counts["ChargeItem"] >= 300
        profile_text = (data / "launch_config" / "sandbox.toml").read_text()
        assert "-----BEGIN" not in profile_text  # the key is not in the profile
        run_printed_command(found.group(0), tmp_path / "biller")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


#: The planted cases (docs/sandbox.md) and the rules that must catch them in the scrub's report.
PLANTED = {
    "mo-edu-medicare": {"payer.not-covered"},
    "mo-edu-noorder": {"order.missing"},
    "mo-edu-np": {"provider.wrong-family"},
    "mo-pt-dxinvalid": {"dx.invalid"},
    "mo-pt-dxheader": {"dx.not-billable"},
    "mo-pt-duplicate": {"duplicate.charge"},
    "mo-pt-nocq": {"assistant.cq", "scrub.modifier-missing"},
    "mo-pt-kx": {"kx.threshold"},
}


def run_printed_command(line: str, cwd: Path) -> None:
    """The line exactly as printed, in a shell, as a biller pastes it: the month scrubbed, each planted case
    caught by its rule."""
    cwd.mkdir()
    done = subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 1, done.stdout + done.stderr  # 1: some charge blocked (the planted ones)
    [report] = cwd.glob("scrub-*/scrub.json")
    charges = json.loads(report.read_text())["charges"]
    assert len(charges) >= 300
    for patient, rules in PLANTED.items():
        found = {f["rule"] for c in charges if c["patient"] == f"Patient/{patient}" for f in c["findings"]}
        assert found & rules, (patient, sorted(found))
