"""CY 2026 Medicare national amounts (docs/reference/pfs-2026.md): the loaded estimates, the stored RVU rows
and the note cannot drift apart.

Every figure is recomputed here from the stored rows, (work + non-facility PE + MP RVU) x the non-QP
conversion factor, independently of scripts/pfs_estimates.py, then compared with what the engine loads and
shows.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import ModuleType

import pytest

from billing_rules import default_rules
from billing_rules.loader import Entry
from tests.unit.test_rules_registry import rules_of, run, therapy

ROOT = Path(__file__).resolve().parents[2]
ROWS_FILE = ROOT / "docs" / "reference" / "pfs-2026-rvu.csv"
NOTE = ROOT / "docs" / "reference" / "pfs-2026.md"
ESTIMATES = ROOT / "billing_rules" / "data" / "estimates.toml"
NON_QP_CF = Decimal("33.4009")  # CY 2026, non-qualifying APM participants (note §3)
YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)

with ROWS_FILE.open(encoding="utf-8", newline="") as _handle:
    ROWS = list(csv.DictReader(_handle))
BY_CODE = {r["hcpcs"]: r for r in ROWS}


def amount(row: dict[str, str]) -> Decimal:
    rvus = Decimal(row["work_rvu"]) + Decimal(row["nonfac_pe_rvu"]) + Decimal(row["mp_rvu"])
    return (rvus * NON_QP_CF).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def medicare_2026(code: str) -> list[Entry]:
    """The packaged Medicare ranges for the code that cover the whole of 2026."""
    return [
        e
        for e in default_rules().entries("estimate")
        if e["payer_class"] == "medicare"
        and code in e["codes"]
        and "payer_name" not in e
        and e["effective_from"] <= YEAR_START
        and e["effective_to"] >= YEAR_END
    ]


# --- The stored rows -------------------------------------------------------------------------------------


def test_the_rows_cover_every_code_of_the_catalogue() -> None:
    catalogue = {code for code, entries in default_rules().codes.items() if any(_in_2026(e) for e in entries)}
    assert catalogue <= set(BY_CODE), sorted(catalogue - set(BY_CODE))
    assert len(BY_CODE) == len(ROWS)  # one row per code, no modifier rows


def _in_2026(entry: Entry) -> bool:
    return bool(entry["effective_from"] <= date(2026, 3, 10) <= entry["effective_to"])


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["hcpcs"])
def test_each_row_adds_up_and_agrees_with_the_second_copy(row: dict[str, str]) -> None:
    parts = Decimal(row["work_rvu"]) + Decimal(row["nonfac_pe_rvu"]) + Decimal(row["mp_rvu"])
    assert parts == Decimal(row["nonfac_total"])
    facility = Decimal(row["work_rvu"]) + Decimal(row["facility_pe_rvu"]) + Decimal(row["mp_rvu"])
    assert facility == Decimal(row["facility_total"])
    assert Decimal(row["conv_factor"]) == NON_QP_CF
    numbers = ",".join(v for k, v in row.items() if k != "hcpcs")
    assert not re.search(r"[A-Za-z]{3,}", numbers)  # no descriptor (AMA copyright)
    if row["second_copy_nonfac_total"]:  # the January copy lists it: same RVUs, same rounded amount
        assert Decimal(row["second_copy_nonfac_total"]) == parts
        assert Decimal(row["second_copy_work_rvu"]) == Decimal(row["work_rvu"])
        assert Decimal(row["second_copy_nonfac_amount"]) == amount(row)
    else:
        assert row["status"] in ("B", "C")  # that copy leaves out bundled and contractor-priced codes


# --- What the engine loads -------------------------------------------------------------------------------


@pytest.mark.parametrize("row", [r for r in ROWS if r["status"] == "A"], ids=lambda r: r["hcpcs"])
def test_the_2026_medicare_estimate_is_the_national_amount_of_the_stored_rvus(row: dict[str, str]) -> None:
    (entry,) = medicare_2026(row["hcpcs"])
    figure = float(amount(row))
    assert entry["low"] == entry["high"] == figure
    assert (entry["effective_from"], entry["effective_to"]) == (YEAR_START, YEAR_END)
    assert "national amount, non-facility, before MPPR and sequestration" in entry["source"]
    total = Decimal(row["work_rvu"]) + Decimal(row["nonfac_pe_rvu"]) + Decimal(row["mp_rvu"])
    assert f"= {total} RVU) x $33.4009" in entry["source"] and f"= ${amount(row)}" in entry["source"]
    assert "docs/reference/pfs-2026.md" in entry["source"] and entry.get("verified", True)


@pytest.mark.parametrize("row", [r for r in ROWS if r["status"] in ("B", "I")], ids=lambda r: r["hcpcs"])
def test_codes_medicare_does_not_pay_keep_a_zero_range(row: dict[str, str]) -> None:
    assert medicare_2026(row["hcpcs"]) and all(e["high"] == 0 for e in medicare_2026(row["hcpcs"]))


@pytest.mark.parametrize("row", [r for r in ROWS if r["status"] == "C"], ids=lambda r: r["hcpcs"])
def test_contractor_priced_codes_get_no_national_figure(row: dict[str, str]) -> None:
    assert not medicare_2026(row["hcpcs"])


def test_the_note_lists_every_figure_the_data_holds() -> None:
    text = NOTE.read_text(encoding="utf-8")
    for row in ROWS:
        line = re.search(rf"^\| {row['hcpcs']} \| {row['status']} \|.*$", text, flags=re.M)
        assert line, row["hcpcs"]
        if row["status"] == "A":
            assert f"| ${amount(row)} |" in line.group(0), line.group(0)


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pfs_estimates", ROOT / "scripts" / "pfs_estimates.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_block_is_what_the_script_prints_from_the_rows() -> None:
    script = _script()
    block = script.render(script.read_rows(ROWS_FILE), 2026, "2026-12-05")
    text = ESTIMATES.read_text(encoding="utf-8")
    assert text.endswith(block)


# --- What the clinician and the scrub see ------------------------------------------------------------------


def test_a_medicare_97110_service_on_2026_03_10_has_an_estimate_and_no_not_loaded_note() -> None:
    ev = run(therapy(service_date="2026-03-10", minutes=30))  # 2 units
    assert ev.estimate is not None and "estimate.not-loaded" not in rules_of(ev)
    assert ev.estimate.low == ev.estimate.high == round(2 * 29.06, 2)
    assert "97110 (2026; checked 2026-12-05)" in ev.estimate.basis
    assert "https://www.cms.gov/medicare/payment/fee-schedules/physician/pfs-relative-value-files" in (
        ev.estimate.basis_urls
    )


def test_an_assistants_2026_units_are_estimated_at_85_percent_of_the_national_amount() -> None:
    ev = run(therapy(role="PTA", service_date="2026-03-10", minutes=15))
    assert "CQ" in ev.charge_lines[0].modifiers
    assert ev.estimate is not None and ev.estimate.high == round(29.06 * 0.85, 2)


@pytest.mark.parametrize(
    ("code", "extra", "figure"),
    [
        ("97165", {"minutes": 45}, 100.54),  # OT evaluation (untimed, 1 unit)
        ("97140", {"minutes": 15}, 27.72),
        ("97530", {"minutes": 15}, 35.07),
    ],
)
def test_other_therapy_codes_are_estimated_in_2026(code: str, extra: dict[str, int], figure: float) -> None:
    ev = run(therapy(code=code, service_date="2026-03-10", **extra))
    assert ev.estimate is not None and ev.estimate.high == figure, [f.rule for f in ev.findings]
