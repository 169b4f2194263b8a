"""``smart-edu demo`` tried as a new user would: the command, the printed URL, a launch in a real browser."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def test_demo_command_then_launcher_url_then_an_ehr_launch(tmp_path: Path, page: Any) -> None:
    cmd = [sys.executable, "-c", "from smart_app.cli import main; raise SystemExit(main())", "demo",
           "--data-dir", str(tmp_path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        launcher = re.search(r"launcher: (http://\S+)", "".join(lines))
        assert launcher, lines
        page.goto(launcher.group(1))
        page.click("#launch-ehr")  # all defaults: the first patient, her latest encounter, its clinician
        frame = page.frame_locator("#app-frame")
        frame.get_by_text("Diabetes education visit").wait_for()
        assert page.text_content("#banner-patient") == "Carmen Delgado"
        assert "Grace Okafor" in frame.locator("body").inner_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0
