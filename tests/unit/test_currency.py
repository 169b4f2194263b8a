"""Currency by design: the rule data's periods, what is in force, what runs out, and the 60-day tripwire."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from billing_rules import currency, load_rules

KINDS = {"kx_threshold", "review_threshold", "medicare_telehealth_list", "icd10cm", "policy:medicare"}


def test_data_in_force_today_does_not_run_out_within_60_days() -> None:
    """Fails 60 days before any required data in force today runs out with nothing (not even a stated gap)
    after it.

    When it fails: add next year's data (docs/rules.md, "Adding next year's data"), or, when the year's
    fact truly
    cannot be had yet, a [[data_gap]] entry saying what was searched, so the engine says "not checked".
    """
    assert currency.unknown_days(date.today(), 60) == []


def test_every_required_kind_has_periods() -> None:
    kinds = {p.kind for p in currency.data_periods() if p.required}
    assert kinds >= KINDS


def test_in_force_picks_the_periods_covering_the_date() -> None:
    names = {(p.kind, p.name) for p in currency.in_force(date(2026, 3, 2))}
    assert ("kx_threshold", "2026: $2,480") in names
    assert ("icd10cm", "FY2026") in names and ("icd10cm", "FY2027") not in names
    fy2027 = {
        (p.kind, p.name, p.partial) for p in currency.in_force(date(2026, 12, 4)) if p.kind == "icd10cm"
    }
    assert fy2027 == {("icd10cm", "FY2027", "127 categories only")}


def test_kx_2026_expires_with_only_a_stated_gap_after_it() -> None:
    soon = currency.expiring(date(2026, 12, 4), 90)
    assert [p.name for p in soon if p.kind == "kx_threshold"] == ["2026: $2,480"]
    assert not [p for p in currency.expiring(date(2026, 9, 1), 90) if p.kind == "kx_threshold"]
    assert not [p for p in currency.expiring(date(2026, 12, 4), 20) if p.kind == "kx_threshold"]  # 27 days


def test_a_stated_gap_is_missing_data_on_its_dates_but_known() -> None:
    assert currency.missing(date(2026, 12, 31)) == []
    (gap,) = [p for p in currency.missing(date(2027, 1, 1)) if p.kind == "kx_threshold"]
    assert gap.gap and "not found" in gap.source
    assert currency.unknown_days(date(2027, 1, 1), 60) == []


def test_a_date_with_no_data_and_no_gap_is_unknown() -> None:
    (_, day) = next(k for k in currency.unknown_days(date(2028, 1, 1), 0) if k[0] == "kx_threshold")
    assert day == date(2028, 1, 1)
    assert any(p.name == "no data" for p in currency.missing(date(2028, 1, 1)))


def test_estimate_series_are_per_payer_class() -> None:
    soon = currency.expiring(date(2026, 12, 4), 90)
    assert any(p.kind == "estimate:98960:commercial" for p in soon)


def test_a_deployment_file_that_adds_next_year_closes_the_gap(tmp_path: Path) -> None:
    (tmp_path / "kx.toml").write_text(
        "[[kx_threshold]]\namount = 2500\neffective_from = 2027-01-01\neffective_to = 2027-12-31\n"
        'source = "Example contractor notice (local decision)"\ndecision = true\n',
        encoding="utf-8",
    )
    rules = load_rules([tmp_path])
    assert not [p for p in currency.missing(date(2027, 1, 1), rules) if p.kind == "kx_threshold"]
    assert not [p for p in currency.expiring(date(2026, 12, 4), 90, rules) if p.kind == "kx_threshold"]


def test_optional_edit_tables_are_named_when_not_loaded() -> None:
    assert len(currency.missing_optional()) == 2


def _status(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "smart_app.cli", "rules", "status", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(("as_of", "code"), [("2026-12-04", 0), ("2027-01-01", 1), ("2031-01-01", 1)])
def test_rules_status_exits_1_when_something_in_force_has_no_data(as_of: str, code: int) -> None:
    done = _status("--as-of", as_of)
    assert done.returncode == code, done.stdout + done.stderr
    assert "In force:" in done.stdout and "No data on this date:" in done.stdout


def test_rules_status_text_names_what_expires_and_the_gaps() -> None:
    out = _status("--as-of", "2026-12-04").stdout
    expires = out.split("Expires within 90 days")[1].split("Known gaps")[0]
    assert "Medicare KX threshold: 2026: $2,480" in expires
    assert "NCCI PTP edits" in out and "not loaded" in out
    assert "ICD-10-CM code set: FY2027" in out and "127 categories only" in out


def test_rules_status_json_and_bad_date() -> None:
    import json

    done = _status("--as-of", "2027-01-01", "--format", "json")
    data = json.loads(done.stdout)
    assert data["as_of"] == "2027-01-01" and data["missing"][0]["gap"] is True
    bad = _status("--as-of", "01/02/2027")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


def test_expiring_for_the_readiness_check_is_quick_to_call() -> None:
    today = date.today()
    assert isinstance(currency.expiring(today, 30), list)
    assert all(p.end < today + timedelta(days=30) for p in currency.expiring(today, 30))
