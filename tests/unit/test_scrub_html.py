"""scrub.html without a browser: its charts are the JSON's numbers, everything is escaped, and the policy
allows exactly the page's own style and script (the browser checks are in tests/e2e/test_scrub_html.py)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from smart_app.scrub.charts import charts
from smart_app.scrub.html import render_html
from smart_app.scrub.run import Options, scrub_directory
from tests.scrub_data import month_resources, write_export


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("html") / "x"
    resources = month_resources()
    for r in resources:
        if r.get("resourceType") == "Practitioner" and r["id"] == "rn-okafor":
            r["name"] = [{"given": ["<script>alert(1)</script>"], "family": "Okafor"}]
    write_export(folder, resources=resources)
    return scrub_directory(folder, Options())


def _by(chart_id: str, doc: dict[str, Any]) -> dict[str, float]:
    chart = next(c for c in charts(doc) if c.id == chart_id)
    return {bar.label: bar.total for bar in chart.bars}


def test_charges_by_clinician_and_week_count_blocked_and_warned_charges(document: dict[str, Any]) -> None:
    flagged = [c for c in document["charges"] if {f["severity"] for f in c["findings"]} & {"block", "warn"}]
    by_clinician = _by("by-clinician", document)
    assert sum(by_clinician.values()) == len(flagged)
    assert by_clinician["Sam Cho"] == 1
    by_week = _by("by-week", document)
    assert sum(by_week.values()) == len(flagged) and "2026-03-16" in by_week  # Monday of 2026-03-18


def test_revenue_at_risk_is_the_blocked_charges_estimates(document: dict[str, Any]) -> None:
    at_risk = _by("at-risk", document)
    blocked = [c for c in document["charges"] if any(f["severity"] == "block" for f in c["findings"])]
    # (a Medicare Advantage 98960 is a payer.not-covered warning since issue 12: only the blocking ones count)
    payer = [
        c
        for c in blocked
        if any(f["rule"] == "payer.not-covered" and f["severity"] == "block" for f in c["findings"])
    ]
    assert at_risk.get("payer.not-covered", 0) == sum(c["estimate"]["high"] for c in payer if c["estimate"])
    assert max(at_risk.values()) <= document["summary"]["at_risk"]["high"]


def test_everything_from_the_data_is_escaped(document: dict[str, Any]) -> None:
    page = render_html(document)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Okafor" in page
    assert page.count("<script>") == 1


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_policy_hashes_exactly_the_inline_style_and_script(document: dict[str, Any]) -> None:
    page = render_html(document)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    csp = policy[1].replace("&#39;", "'")
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert style and script
    assert f"style-src '{_sha(style[1])}'" in csp and f"script-src '{_sha(script[1])}'" in csp
    assert csp.startswith("default-src 'none';") and "unsafe" not in csp
    assert not re.search(r"\b(src|href)=\"(https?:)?//", page)  # nothing to fetch


def test_the_cli_writes_the_page(tmp_path: Path) -> None:
    from smart_app.cli import main

    write_export(tmp_path / "x")
    main(["scrub", "--ndjson", str(tmp_path / "x"), "--out", str(tmp_path / "o"), "--format", "html"])
    assert (tmp_path / "o" / "scrub.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert not (tmp_path / "o" / "scrub.json").exists()


def test_the_template_has_no_inline_handlers_or_style_attributes() -> None:
    from smart_app.resources import templates_dir

    text = (templates_dir() / "scrub" / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"\son[a-z]+=|\sstyle=", text)
    assert "|safe" not in text and "autoescape false" not in text
