"""scrub.html without a browser: its charts are the JSON's numbers, everything is escaped, and the policy
allows exactly the page's own style and script (the browser checks are in tests/e2e/test_scrub_html.py)."""

from __future__ import annotations

import base64
import hashlib
import json
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


def page_data(page: str) -> dict[str, Any]:
    """The data block the page's script draws the table from."""
    block = re.search(r'<script type="application/json" id="scrub-data">(.*?)</script>', page, re.S)
    assert block is not None
    data: dict[str, Any] = json.loads(block[1])
    return data


def decoded(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The charges as the page shows them (the layout is smart_app/scrub/page_data.py's docstring's)."""
    s, findings = data["strings"], data["findings"]
    return [
        {
            "date": s[c[0]] or None,
            "patient": s[c[1]],
            "chargeitem": c[2],
            "code": s[c[3]] or None,
            "modifiers": s[c[4]].split(),
            "units": c[5],
            "clinician": s[c[6]],
            "findings": [dict(zip(SHOWN, (s[i] for i in findings[f]), strict=True)) for f in c[7]],
        }
        for c in data["charges"]
    ]


SHOWN = ("severity", "rule", "message", "prompt", "source")


def as_shown(charge: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": charge["date"],
        "patient": charge["patient"],
        "chargeitem": charge["chargeitem"],
        "code": charge["code"],
        "modifiers": list(charge.get("modifiers") or []),
        "units": charge["units"],
        "clinician": charge.get("clinician") or "not named",
        "findings": [{k: f[k] for k in SHOWN} for f in charge["findings"]],
    }


def test_the_page_carries_every_charge_of_the_json_with_its_findings(document: dict[str, Any]) -> None:
    data = page_data(render_html(document))
    assert len(data["charges"]) == document["summary"]["charges"] == len(document["charges"])
    assert decoded(data) == [as_shown(c) for c in document["charges"]]


def test_findings_by_rule_are_the_summarys_counts(document: dict[str, Any]) -> None:
    page = render_html(document)
    rows = re.findall(r'<tr data-rule="([^"]+)">.*?((?:<td class="num">\d+</td>){4})</tr>', page)
    table = {rule: [int(n) for n in re.findall(r"\d+", cells)] for rule, cells in rows}
    assert {rule: counts[3] for rule, counts in table.items()} == document["summary"]["by_rule"]
    for rule, (block, warn, info, total) in table.items():
        severities = [f["severity"] for c in document["charges"] for f in c["findings"] if f["rule"] == rule]
        assert [severities.count("block"), severities.count("warn"), severities.count("info")] == [
            block,
            warn,
            info,
        ]
        assert block + warn + info == total


@pytest.mark.parametrize("field", ["clinician", "message", "chargeitem"])
def test_no_value_can_end_the_data_block(document: dict[str, Any], field: str) -> None:
    hostile = "</script><script>alert(1)</script><!--<script>"
    charge = json.loads(json.dumps(document["charges"][0]))
    if field == "message":
        charge["findings"][0]["message"] = hostile
    else:
        charge[field] = hostile
    page = render_html({"summary": document["summary"], "charges": [charge]})
    assert page.count("</script") == 2 and page.count("<script>") == 1  # the data block's end, the script's
    assert hostile not in page
    assert hostile in json.dumps(decoded(page_data(page)), ensure_ascii=False)


def test_a_charge_adds_about_a_hundred_bytes_to_the_page(tmp_path: Path) -> None:
    """3.2 KB a charge before the data block (320 MB at 100,000 charges); the bound keeps it near 100 B."""
    from tests.scrub_data import busy_month

    sizes = []
    for copies in (2, 10):
        write_export(tmp_path / str(copies), copies=copies, resources=busy_month())
        doc = scrub_directory(tmp_path / str(copies), Options())
        sizes.append((len(doc["charges"]), len(render_html(doc).encode("utf-8"))))
    (n1, b1), (n2, b2) = sizes
    assert n2 > n1 and (b2 - b1) / (n2 - n1) < 160
