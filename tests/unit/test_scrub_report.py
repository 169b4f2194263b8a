"""scrub.json as DESIGN.md §4 specifies it, scrub.csv one row per finding and spreadsheet-safe, the summary on
stdout, exit codes 0 (nothing blocked) and 1 (some charge blocked)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from smart_app.cli import main
from smart_app.scrub.report import safe_cell
from tests.scrub_data import month_resources, write_export
from tests.unit.test_scrub_html import page_data

CHARGE_KEYS = {"chargeitem", "patient", "encounter", "code", "units", "date", "billable", "findings"}
FINDING_KEYS = {"rule", "severity", "message", "prompt", "field", "source"}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path]:
    root = tmp_path_factory.mktemp("report")
    write_export(root / "export")
    out, err = io.StringIO(), io.StringIO()  # capsys is per test; this report is shared by the module
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            ["scrub", "--ndjson", str(root / "export"), "--out", str(root / "out"), "--format", "json,csv"]
        )
    return code, out.getvalue(), err.getvalue(), root / "out"


def _doc(report: tuple[int, str, str, Path]) -> dict[str, Any]:
    return json.loads((report[3] / "scrub.json").read_text(encoding="utf-8"))


def test_the_json_has_the_designed_shape(report: tuple[int, str, str, Path]) -> None:
    doc = _doc(report)
    assert set(doc) == {"summary", "charges"}
    summary = doc["summary"]
    assert {
        "charges",
        "billable",
        "blocked",
        "warned",
        "at_risk",
        "by_rule",
        "period",
        "rules_version",
    } <= set(summary)
    assert set(summary["at_risk"]) == {"currency", "low", "high"} and summary["at_risk"]["currency"] == "USD"
    assert summary["period"] == ["2026-02-16", "2026-03-26"]
    for charge in doc["charges"]:
        assert set(charge) >= CHARGE_KEYS
        assert charge["chargeitem"].startswith("ChargeItem/") and charge["patient"].startswith("Patient/")
        assert charge["encounter"] is None or charge["encounter"].startswith("Encounter/")
        for finding in charge["findings"]:
            assert set(finding) >= FINDING_KEYS and finding["severity"] in ("block", "warn", "info")


def test_the_summary_counts_are_the_charges_counts(report: tuple[int, str, str, Path]) -> None:
    doc = _doc(report)
    charges, summary = doc["charges"], doc["summary"]
    blocked = [c for c in charges if any(f["severity"] == "block" for f in c["findings"])]
    assert summary["charges"] == len(charges) == 14  # 15 written, one entered in error
    assert summary["blocked"] == len(blocked)
    assert summary["billable"] == sum(c["billable"] for c in charges)
    assert summary["warned"] == sum(
        1 for c in charges if c not in blocked and any(f["severity"] == "warn" for f in c["findings"])
    )
    assert summary["by_rule"] == dict(
        sorted(Counter(f["rule"] for c in charges for f in c["findings"]).items())
    )
    assert summary["at_risk"]["low"] == round(sum(c["estimate"]["low"] for c in blocked if c["estimate"]), 2)
    assert summary["at_risk"]["high"] >= summary["at_risk"]["low"] > 0


def test_blocked_charges_exit_1_and_the_summary_is_printed(report: tuple[int, str, str, Path]) -> None:
    code, out, err, folder = report
    doc = _doc(report)
    assert code == 1
    assert f"billable {doc['summary']['billable']}, blocked {doc['summary']['blocked']}" in out
    assert "revenue at risk: USD" in out and f"wrote {folder / 'scrub.csv'}" in out
    assert err == ""  # no progress bar when stderr is not a terminal


def test_the_csv_has_one_row_per_finding(report: tuple[int, str, str, Path]) -> None:
    doc = _doc(report)
    with (report[3] / "scrub.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(len(c["findings"]) for c in doc["charges"])
    assert list(rows[0]) == ["chargeitem", "patient", "date", "code", "rule", "severity", "message", "prompt"]
    first = doc["charges"][0]
    assert (rows[0]["chargeitem"], rows[0]["rule"]) == (first["chargeitem"], first["findings"][0]["rule"])


def test_nothing_blocked_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keep = {"ci-dm-98960", "doc-ci-dm-98960"}
    resources = [r for r in month_resources() if r["resourceType"] not in ("ChargeItem", "DocumentReference")]
    resources += [r for r in month_resources() if r.get("id") in keep]
    write_export(tmp_path / "x", resources=resources)
    code = main(["scrub", "--ndjson", str(tmp_path / "x"), "--out", str(tmp_path / "o"), "--format", "json"])
    assert code == 0
    assert json.loads((tmp_path / "o" / "scrub.json").read_text())["summary"]["blocked"] == 0


def test_the_default_folder_is_named_for_today(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import date

    write_export(tmp_path / "x")
    monkeypatch.chdir(tmp_path)
    main(["scrub", "--ndjson", "x", "--format", "json"])
    assert (tmp_path / f"scrub-{date.today().isoformat()}" / "scrub.json").is_file()


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_a_formula_like_cell_is_made_text(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["98960", "Patient/1", "E11.9 note", "", None])
def test_an_ordinary_cell_is_left_alone(value: str | None) -> None:
    assert safe_cell(value) == (value or "")


def test_a_formula_in_the_data_reaches_the_csv_as_text(tmp_path: Path) -> None:
    resources = month_resources()
    for r in resources:
        if r.get("id") == "ci-dm-98960":
            r["code"]["coding"][0]["code"] = "=1+1"
    write_export(tmp_path / "x", resources=resources)
    main(["scrub", "--ndjson", str(tmp_path / "x"), "--out", str(tmp_path / "o"), "--format", "csv"])
    with (tmp_path / "o" / "scrub.csv").open(encoding="utf-8", newline="") as handle:
        codes = {
            row["code"] for row in csv.DictReader(handle) if row["chargeitem"] == "ChargeItem/ci-dm-98960"
        }
    assert codes == {"'=1+1"}


def test_on_a_terminal_a_progress_bar_shows_rate_and_time_left(capsys: pytest.CaptureFixture[str]) -> None:
    from smart_app.scrub.progress import progress_bar

    with progress_bar(10, force=True) as advance:
        for _ in range(10):
            advance(1)
    err = capsys.readouterr().err
    assert "10/10" in err and "charges/s" in err and "0:00:00" in err


def test_off_a_terminal_there_is_no_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from smart_app.scrub.progress import progress_bar

    with progress_bar(10) as advance:
        advance(10)
    assert capsys.readouterr().err == ""


def test_the_commands_rows_on_disk_give_the_same_report_as_in_memory(tmp_path: Path) -> None:
    from smart_app.scrub.run import Options, scrub_directory
    from tests.scrub_data import busy_month

    write_export(tmp_path / "x", copies=2, resources=busy_month())
    with contextlib.redirect_stdout(io.StringIO()):
        main(["scrub", "--ndjson", str(tmp_path / "x"), "--out", str(tmp_path / "o"), "--format", "json"])
    on_disk = json.loads((tmp_path / "o" / "scrub.json").read_text(encoding="utf-8"))
    assert on_disk == scrub_directory(tmp_path / "x", Options())
    dates = [(c["date"] or "", c["patient"], c["chargeitem"]) for c in on_disk["charges"]]
    assert dates == sorted(dates)


TRICKY = [
    "plain",
    "",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\rinside",
    "tab\tinside",
    "=1+1",
    "-2",
    "\x07bell",
    "José Núñez",
    ' "quoted, with comma"\r\n',
    '@x,"y"',
]


def test_the_hand_written_csv_is_what_csv_writer_writes(tmp_path: Path) -> None:
    from smart_app.scrub.report import CsvWriter

    charge = {
        "chargeitem": "ChargeItem/a,b",
        "patient": 'Patient/"p"',
        "date": None,
        "code": "=SUM(1)",
        "findings": [{"rule": t, "severity": "warn", "message": t, "prompt": t[::-1]} for t in TRICKY],
    }
    writer = CsvWriter(tmp_path / "scrub.csv")
    writer.add(charge)
    writer.add({**charge, "findings": []})
    writer.close()
    expected = io.StringIO(newline="")
    reference = csv.writer(expected, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    reference.writerow(["chargeitem", "patient", "date", "code", "rule", "severity", "message", "prompt"])
    for f in charge["findings"]:
        row = [charge[k] for k in ("chargeitem", "patient", "date", "code")]
        reference.writerow([safe_cell(v) for v in (*row, f["rule"], "warn", f["message"], f["prompt"])])
    assert (tmp_path / "scrub.csv").read_bytes() == expected.getvalue().encode("utf-8")


def test_the_json_keeps_non_ascii_as_utf8_and_reads_back_the_same(tmp_path: Path) -> None:
    from smart_app.scrub.report import write_reports

    charge = {
        "chargeitem": "ChargeItem/1",
        "clinician": "José Núñez",
        "units": 2,
        "estimate": {"low": 1.5},
        "findings": [{"rule": "r", "message": "≥ 8 minutes ✓ \u2028"}],
    }
    document = {
        "summary": {"charges": 1, "period": ["2026-03-01", None], "by_rule": {"r": 1}},
        "charges": [charge],
    }
    write_reports(document, tmp_path, ["json"])
    raw = (tmp_path / "scrub.json").read_bytes()
    assert "José Núñez".encode() in raw and "≥ 8 minutes ✓".encode() in raw and b"\\u" not in raw
    assert json.loads(raw) == document


def test_the_three_files_come_from_one_pass_over_the_rows(tmp_path: Path) -> None:
    """The command's rows are read back from disk: a second pass would cost a read of every row again."""
    from smart_app.scrub.report import write_reports
    from smart_app.scrub.run import Options, scrub_directory

    write_export(tmp_path / "x")
    document = scrub_directory(tmp_path / "x", Options())
    once = iter(document["charges"])  # an iterator: a second pass would see no charges
    written = write_reports(
        {"summary": document["summary"], "charges": once}, tmp_path, ["html", "json", "csv"]
    )
    assert [p.name for p in written] == ["scrub.json", "scrub.csv", "scrub.html"]
    assert json.loads((tmp_path / "scrub.json").read_text(encoding="utf-8")) == document
    with (tmp_path / "scrub.csv").open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == sum(len(c["findings"]) for c in document["charges"])
    page = page_data((tmp_path / "scrub.html").read_text(encoding="utf-8"))
    assert [c[2] for c in page["charges"]] == [c["chargeitem"] for c in document["charges"]]


def test_a_run_that_fails_while_writing_leaves_no_page(tmp_path: Path) -> None:
    from smart_app.scrub.report import write_reports

    def rows() -> Any:
        yield {
            "chargeitem": "ChargeItem/1",
            "patient": "Patient/1",
            "date": None,
            "code": None,
            "units": 1,
            "findings": [],
        }
        raise OSError("disk gone")

    summary = {
        "charges": 2,
        "period": [None, None],
        "rules_version": "x",
        "blocked": 0,
        "warned": 0,
        "billable": 0,
        "at_risk": {"currency": "USD", "low": 0, "high": 0},
        "by_rule": {},
    }
    with pytest.raises(OSError, match="disk gone"):
        write_reports({"summary": summary, "charges": rows()}, tmp_path, ["json", "html"])
    assert not (tmp_path / "scrub.html").exists()


def test_rows_on_disk_keep_each_distinct_finding_once() -> None:
    """Findings are stored as numbers into a table of distinct findings: equal findings from other objects
    (rows unpickled from a worker) share one entry; each row reads back whole and in the report's order."""
    from smart_app.scrub.rows import DiskRows

    def finding(rule: str) -> dict[str, object]:
        return {"rule": rule, "severity": "warn", "message": f"{rule} ü", "source_urls": ["https://x"]}

    rows = [
        {"date": f"2026-03-0{9 - n}", "patient": f"Patient/{n % 3}", "chargeitem": f"ChargeItem/{n}",
         "billable": True, "findings": [finding("a"), finding("b" if n % 2 else "c")]}
        for n in range(9)
    ]  # fmt: skip
    store = DiskRows()
    try:
        store.add(rows[:4])
        store.add(rows[4:])
        back = list(store)
        assert back == sorted(rows, key=lambda r: (r["date"], r["patient"], r["chargeitem"]))
        assert len(store._findings) == 3  # a, b, c: not one per row
        assert list(store) == back  # read twice, the same
    finally:
        store.close()


def test_rows_on_disk_keep_findings_past_the_table_limit_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table of distinct findings is bounded; a finding met after it is full is stored with its row."""
    from smart_app.scrub import rows as rows_module

    monkeypatch.setattr(rows_module, "TABLE_LIMIT", 2)
    rows = [
        {"date": "2026-03-02", "patient": "Patient/p", "chargeitem": f"ChargeItem/{n}", "billable": False,
         "findings": [{"rule": "duplicate.charge", "severity": "warn", "message": f"as ChargeItem/{n - 1}"}]}
        for n in range(6)
    ]  # fmt: skip
    store = rows_module.DiskRows()
    try:
        store.add(rows)
        assert list(store) == rows and len(store._findings) == 2
    finally:
        store.close()
