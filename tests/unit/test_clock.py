"""Time is always timezone-aware: one clock, and no naive "now" anywhere in the app."""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path

from smart_app.clock import utcnow

ROOT = Path(__file__).resolve().parents[2]
NAIVE_NOW = re.compile(r"datetime\.(now|utcnow|today)\(|replace\(tzinfo=None\)|fromtimestamp\([^,)]*\)")


def test_utcnow_is_aware_utc() -> None:
    assert utcnow().tzinfo is UTC


def test_no_module_but_the_clock_takes_the_time() -> None:
    allowed = {ROOT / "smart_app" / "clock.py", ROOT / "smart_app" / "store" / "types.py"}
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for package in ("smart_app", "fhir_mappings")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path not in allowed
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if NAIVE_NOW.search(line)
    ]
    assert offenders == []
