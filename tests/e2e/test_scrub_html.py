"""scrub.html in Chromium: the numbers are the JSON's, a biller can sort and filter the charges and open one
to its findings and prompts, printing opens them all, axe-core finds no serious or critical violation, and
nothing is fetched from the network (a hostile value in the export stays text).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smart_app.cli import main
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_poc_document import AXE
from tests.scrub_data import month_resources, write_export

pytestmark = pytest.mark.e2e
HOSTILE = "<img/src=x.png/onerror=document.title=1>"  # no spaces: codes lose theirs when normalised


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("html")
    resources = month_resources()
    for r in resources:
        if r.get("id") == "ci-group-local":
            r["code"]["coding"][0]["code"] = HOSTILE  # shown in scrub.code-unreadable's message
    write_export(root / "export", resources=resources)
    with contextlib.redirect_stdout(io.StringIO()):
        main(["scrub", "--ndjson", str(root / "export"), "--out", str(root / "out")])
    return root / "out" / "scrub.html", json.loads((root / "out" / "scrub.json").read_text(encoding="utf-8"))


@pytest.fixture
def opened(
    browser: Any, report: tuple[Path, dict[str, Any]], request: pytest.FixtureRequest
) -> Iterator[Any]:
    """The page in a fresh context; every request and every console error is recorded on the page object."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.requests = []
    page.errors = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(report[0].as_uri())
    yield page
    page.screenshot(path=str(ARTIFACTS / f"scrub_html_{request.node.name}.png"), full_page=True)
    context.close()


def visible_column(page: Any, index: int) -> list[str]:
    return page.eval_on_selector_all(
        "tbody.charge:not([hidden]) > tr",
        f"rows => rows.map(r => r.children[{index}].textContent.trim())",
    )


def test_the_numbers_are_the_jsons(opened: Any, report: tuple[Path, dict[str, Any]]) -> None:
    summary = report[1]["summary"]
    for key in ("charges", "billable", "blocked", "warned"):
        assert opened.text_content(f"#n-{key}") == str(summary[key])
    risk = summary["at_risk"]
    assert opened.text_content("#n-risk") == f"USD {risk['low']:,.2f} to {risk['high']:,.2f}"
    assert opened.locator("tbody.charge").count() == len(report[1]["charges"])
    by_rule = [(b["data-label"], float(b["data-value"])) for b in _bars(opened, "by-rule")]
    for rule, value in by_rule:
        expected = sum(
            1
            for c in report[1]["charges"]
            for f in c["findings"]
            if f["rule"] == rule and f["severity"] != "info"
        )
        assert value == expected, rule


def _bars(page: Any, chart: str) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        f"#chart-{chart} g.bar",
        "gs => gs.map(g => ({'data-label': g.dataset.label, 'data-value': g.dataset.value}))",
    )


def test_nothing_is_fetched_and_the_policy_lets_only_the_pages_own_code_run(
    opened: Any, report: tuple[Path, dict[str, Any]]
) -> None:
    assert opened.requests == [report[0].as_uri()]
    assert opened.errors == []  # no CSP violation, no script error
    assert opened.title().startswith("Pre-bill scrub")  # the hostile onerror never ran
    assert opened.locator("table img").count() == 0
    assert HOSTILE in opened.text_content("tbody[data-charge='ChargeItem/ci-group-local']")
    colour = opened.eval_on_selector(".badge.block", "e => getComputedStyle(e).color")
    assert colour == "rgb(164, 22, 26)"  # the inline style was allowed by its hash


def visible_data(page: Any, key: str) -> list[str]:
    return page.eval_on_selector_all(
        "tbody.charge:not([hidden])", f"bodies => bodies.map(b => b.dataset['{key}'])"
    )


def test_sorting_by_a_column_and_back(opened: Any) -> None:
    opened.click("th button[data-key='code']")
    codes = visible_data(opened, "code")
    assert codes == sorted(codes) and codes[0] == ""  # the charge without a code first
    assert visible_column(opened, 3)[0] == "none" and visible_column(opened, 3)[1].startswith("97110")
    assert opened.get_attribute("th:has(button[data-key='code'])", "aria-sort") == "ascending"
    opened.click("th button[data-key='code']")
    assert visible_data(opened, "code") == sorted(codes, reverse=True)
    assert opened.get_attribute("th:has(button[data-key='code'])", "aria-sort") == "descending"
    assert opened.get_attribute("th:has(button[data-key='date'])", "aria-sort") == "none"
    opened.click("th button[data-key='status']")
    statuses = visible_column(opened, 6)
    order = {"Blocked": 0, "Warned": 1, "No warnings": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)


def test_filtering_by_status_rule_clinician_and_text(
    opened: Any, report: tuple[Path, dict[str, Any]]
) -> None:
    charges = report[1]["charges"]
    opened.select_option("#f-status", "block")
    assert opened.locator("tbody.charge:not([hidden])").count() == report[1]["summary"]["blocked"]
    assert (
        opened.text_content("#shown") == f"{report[1]['summary']['blocked']} of {len(charges)} charges shown"
    )
    opened.select_option("#f-status", "")
    opened.select_option("#f-rule", "scrub.modifier-missing")
    expected = {
        c["chargeitem"] for c in charges if any(f["rule"] == "scrub.modifier-missing" for f in c["findings"])
    }
    assert set(visible_column(opened, 2)) == expected
    opened.select_option("#f-rule", "")
    opened.select_option("#f-clinician", "Grace Okafor")
    assert set(visible_column(opened, 5)) == {"Grace Okafor"}
    opened.select_option("#f-clinician", "")
    opened.fill("#f-text", "ci-copd")
    assert visible_column(opened, 2) == ["ChargeItem/ci-copd-98960"]


def test_a_charge_opens_to_its_findings_and_prompts(opened: Any) -> None:
    body = opened.locator("tbody[data-charge='ChargeItem/ci-copd-98960']")
    assert not body.locator("p.prompt").first.is_visible()
    body.locator("summary").click()
    finding = body.locator("li.block").first
    assert "billed with 2 unit(s)" in finding.text_content()
    assert finding.locator("p.prompt").is_visible() and "Correct the units to 1" in finding.text_content()


def test_printing_opens_every_charges_findings_and_hides_the_filters(opened: Any) -> None:
    opened.emulate_media(media="print")
    opened.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert opened.eval_on_selector_all("details", "ds => ds.every(d => d.open)")
    assert not opened.locator("#filters").is_visible()
    opened.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert opened.eval_on_selector_all("details", "ds => ds.every(d => !d.open)")


def test_axe_finds_no_serious_or_critical_violation(opened: Any) -> None:
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run `make test` (npm install axe-core into node_modules/)")
    opened.evaluate(AXE.read_text(encoding="utf-8"))
    opened.locator("tbody.charge summary").first.click()  # with a charge's findings open as well
    result = opened.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


@pytest.fixture(scope="module")
def busy_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """More charges than the table draws at once (PAGE_ROWS)."""
    from smart_app.scrub.html import PAGE_ROWS
    from tests.scrub_data import busy_month

    root = tmp_path_factory.mktemp("busy")
    write_export(root / "export", copies=8, resources=busy_month())
    with contextlib.redirect_stdout(io.StringIO()):
        main(["scrub", "--ndjson", str(root / "export"), "--out", str(root / "out")])
    document = json.loads((root / "out" / "scrub.json").read_text(encoding="utf-8"))
    assert PAGE_ROWS < len(document["charges"]) < 2 * PAGE_ROWS
    return root / "out" / "scrub.html", document


def _open(browser: Any, path: Path, *, javascript: bool = True) -> tuple[Any, Any]:
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(path.as_uri())
    return context, page


def test_a_long_table_is_drawn_a_page_at_a_time_and_shows_more_on_demand(
    browser: Any, busy_report: tuple[Path, dict[str, Any]]
) -> None:
    from smart_app.scrub.html import PAGE_ROWS

    charges = busy_report[1]["charges"]
    context, page = _open(browser, busy_report[0])
    try:
        assert page.locator("tbody.charge").count() == PAGE_ROWS
        assert page.text_content("#shown") == f"{len(charges)} charges; the first {PAGE_ROWS} are shown"
        page.click("#more")
        assert page.locator("tbody.charge").count() == len(charges)
        assert page.text_content("#shown") == f"{len(charges)} of {len(charges)} charges shown"
        assert not page.is_visible("#more")
        drawn = page.eval_on_selector_all("tbody.charge", "bs => bs.map(b => b.dataset.charge)")
        assert drawn == [c["chargeitem"] for c in charges]  # the JSON's order, every charge once
        assert page.errors == []
    finally:
        page.screenshot(path=str(ARTIFACTS / "scrub_html_busy.png"))
        context.close()


def test_sorting_and_filtering_cover_every_charge_not_only_those_drawn(
    browser: Any, busy_report: tuple[Path, dict[str, Any]]
) -> None:
    from smart_app.scrub.html import PAGE_ROWS

    summary = busy_report[1]["summary"]
    context, page = _open(browser, busy_report[0])
    try:
        page.click("th button[data-key='status']")
        statuses = visible_column(page, 6)
        assert len(statuses) == PAGE_ROWS and statuses.count("Blocked") == min(PAGE_ROWS, summary["blocked"])
        assert statuses == sorted(statuses, key=["Blocked", "Warned", "No warnings"].index)
        page.select_option("#f-status", "action")
        action = summary["blocked"] + summary["warned"]
        assert page.text_content("#shown").startswith(f"{action} of {summary['charges']} charges")
        page.select_option("#f-status", "clean")
        clean = summary["charges"] - action
        assert page.locator("tbody.charge").count() == clean
        assert page.text_content("#shown") == f"{clean} of {summary['charges']} charges shown"
    finally:
        context.close()


def test_without_javascript_the_summary_charts_and_rules_are_complete(
    browser: Any, busy_report: tuple[Path, dict[str, Any]]
) -> None:
    summary = busy_report[1]["summary"]
    context, page = _open(browser, busy_report[0], javascript=False)
    try:
        for key in ("charges", "billable", "blocked", "warned"):
            assert page.text_content(f"#n-{key}") == str(summary[key])
        assert page.locator("#chart-by-rule g.bar").count() > 0
        rules = page.eval_on_selector_all(
            "table.by-rule tr[data-rule]",
            "rs => rs.map(r => [r.dataset.rule, r.lastElementChild.textContent])",
        )
        assert {rule: int(n) for rule, n in rules} == summary["by_rule"]
        assert not page.is_visible("#table-ui")
        assert "scrub.json and scrub.csv" in page.text_content("noscript")
        page.screenshot(path=str(ARTIFACTS / "scrub_html_no_javascript.png"), full_page=True)
    finally:
        context.close()
