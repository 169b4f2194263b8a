"""``smart-edu check --service`` with a visit: the CMS allocation, exit codes, text, and bad visit input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_check_cli import run_check, us_core_bundle

PT_VISIT = {
    "service_date": "2026-03-10",
    "provider_role": "PT",
    "diagnoses": ["M17.11"],
    "plan_of_care_certified": True,
    "therapy_ytd_allowed": 300,
    "services": [
        {"code": "97110", "minutes": 33},
        {"code": "97112", "minutes": 24, "provider_role": "PTA"},
        {"code": "97140", "minutes": 7},
    ],
}


def write(tmp_path: Path, data: Any, name: str = "visit.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_medicare_pt_visit_is_billed_by_the_cms_total_minutes(tmp_path: Path, capsys: Any) -> None:
    bundle = us_core_bundle(tmp_path, "121")
    code, out, err = run_check(capsys, "--bundle", bundle, "--service", write(tmp_path, PT_VISIT))
    assert code == 0, err
    result = json.loads(out)
    assert result["billable"] is True
    lines = {line["code"]: line for line in result["charge_lines"]}
    assert {c: line["units"] for c, line in lines.items()} == {"97110": 2, "97112": 2}
    assert lines["97112"]["modifiers"] == ["GP", "CQ"] and lines["97110"]["modifiers"] == ["GP"]
    assert [s["code"] for s in result["services"]] == ["97110", "97112", "97140"]
    assert all("code" in f for f in result["findings"])


def test_a_blocked_service_blocks_the_visit_exit_1(tmp_path: Path, capsys: Any) -> None:
    visit = {**PT_VISIT, "services": [*PT_VISIT["services"], {"code": "97530"}]}
    bundle = us_core_bundle(tmp_path, "121")
    code, out, _ = run_check(capsys, "--bundle", bundle, "--service", write(tmp_path, visit))
    assert code == 1
    (missing,) = [f for f in json.loads(out)["findings"] if f["rule"] == "time.missing"]
    assert missing["code"] == "97530"


def test_text_format_shows_each_service_and_what_each_finding_concerns(tmp_path: Path, capsys: Any) -> None:
    bundle = us_core_bundle(tmp_path, "121")
    code, out, _ = run_check(
        capsys, "--bundle", bundle, "--service", write(tmp_path, PT_VISIT), "--format", "text"
    )
    assert code == 0
    assert "Services:\n  97110: ok (97110 x2)\n  97112: ok (97112 x2)\n  97140: ok (no charge line)" in out
    assert "[assistant.cq] (97112)" in out and "[modifier.therapy] (visit)" in out
    assert out.count("[modifier.therapy]") == 1


@pytest.mark.parametrize(
    ("visit", "field", "words"),
    [
        ({"services": []}, "services", "at least one service"),
        (
            {"services": [{"code": "97110", "minutes": 20}], "other_timed_minutes": {"97140": 7}},
            "other_timed_minutes",
            "derived",
        ),
        (
            {"services": [{"code": "97110"}, {"code": "97112", "minutes": "24"}]},
            "services[1].minutes",
            "whole number",
        ),
        ({"services": [{"code": "97110", "minutes": True}]}, "services[0].minutes", "whole number"),
        ({"services": {"code": "97110"}}, "services", "list"),
    ],
)
def test_bad_visit_input_is_one_line_naming_the_file_and_field_exit_2(
    tmp_path: Path, capsys: Any, visit: dict[str, Any], field: str, words: str
) -> None:
    path = write(tmp_path, visit)
    code, out, err = run_check(capsys, "--bundle", us_core_bundle(tmp_path, "121"), "--service", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1, err
    assert str(path) in err and f"field '{field}'" in err and words in err


def test_swapped_files_name_the_visit(tmp_path: Path, capsys: Any) -> None:
    visit = write(tmp_path, PT_VISIT)
    code, _, err = run_check(capsys, "--bundle", visit, "--service", us_core_bundle(tmp_path, "121"))
    assert code == 2 and "swapped" in err
