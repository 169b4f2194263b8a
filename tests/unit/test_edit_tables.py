"""CMS NCCI practitioner PTP and MUE files in their published layouts (small files written here)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from billing_rules import RuleDataError, load_rules
from billing_rules.model import ExistingCharge
from billing_rules.ncci import load_edit_tables, mue_effective, parse_mue, parse_ptp
from tests.unit.test_rules_registry import MUE_HEADER, PTP_HEADER, Case, rules_of, run, therapy

NOTICE = "CPT only copyright 2025 American Medical Association. All rights reserved.\n\n\n"
# The real practitioner file splits its header over several rows; only the first starts with "Column 1".
PTP = (
    NOTICE
    + PTP_HEADER
    + "\t\t\t\t\t\t\n"
    + "\n".join(
        [
            "97140\t97161\t\t20200101\t*\t1\tStandards of medical / surgical practice",
            "97530\t97161\t\t20200101\t20200401\t0\tMutually exclusive procedures",
            "97530\t97164\t\t20200101\t*\t0\tMisuse of column two code with column one code",
            "97110\t97112\t\t20200101\t*\t9\tnot applicable",
        ]
    )
)
MUE = (
    '"CPT codes, descriptions and other data only are copyright 2025 American Medical Association.\n'
    'All Rights Reserved.",,,\n'
    '"HCPCS/\nCPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator","MUE Rationale"\n'
    '97161,1,"2 Date of Service Edit: Policy","Code Descriptor / CPT Instruction"\n'
    '97110,4,"1 Line Edit","Clinical: Data"\n'
)


def test_ptp_rows_dates_and_indicators() -> None:
    edits = {(e.column1, e.column2): e for e in parse_ptp(PTP, "ptp.txt")}
    assert len(edits) == 4
    manual = edits[("97140", "97161")]
    assert manual.effective == date(2020, 1, 1) and manual.deletion is None and manual.modifier == "1"
    deleted = edits[("97530", "97161")]
    assert deleted.active(date(2020, 3, 31)) and not deleted.active(date(2020, 4, 1))
    assert not manual.active(date(2019, 12, 31))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Code\tOther\n97140\t97161\n", "not a CMS PTP file"),
        (PTP_HEADER + "97140\t97161\t\t2020-01-01\t*\t1\tx\n", "bad date"),
        (PTP_HEADER + "97140\t97161\t\t20200101\t*\t5\tx\n", "modifier indicator"),
        (PTP_HEADER + "97140\t97161\n", "7 tab-separated columns"),
    ],
)
def test_ptp_refuses_other_layouts(text: str, message: str) -> None:
    with pytest.raises(RuleDataError, match=message):
        parse_ptp(text, "ptp.txt")


def test_mue_rows_with_a_multiline_notice_and_header() -> None:
    table = parse_mue(MUE, "mue.csv")
    assert (table["97161"].limit, table["97161"].mai) == (1, "2")
    assert (table["97110"].limit, table["97110"].mai, table["97110"].rationale) == (4, "1", "Clinical: Data")


def test_mue_refuses_other_layouts() -> None:
    with pytest.raises(RuleDataError, match="not a CMS MUE file"):
        parse_mue("code,limit\n97110,4\n", "mue.csv")
    with pytest.raises(RuleDataError, match="adjudication indicator"):
        parse_mue(MUE_HEADER + "97110,four,3\n", "mue.csv")


def test_mue_effective_date_comes_from_the_file_name() -> None:
    assert mue_effective("MCR_MUE_PractitionerServices_Eff_04-01-2026.csv") == date(2026, 4, 1)
    with pytest.raises(RuleDataError, match="effective date"):
        mue_effective("mue.csv")


@pytest.fixture
def edits_dir(tmp_path: Path) -> Path:
    (tmp_path / "ccipra-v322r0-f1.txt").write_text(PTP, encoding="latin-1")
    (tmp_path / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv").write_text(MUE, encoding="latin-1")
    (tmp_path / "README.pdf").write_bytes(b"%PDF")  # other files in a CMS zip are ignored
    return tmp_path


def test_loader_keys_tables_by_effective_date(edits_dir: Path) -> None:
    tables = load_edit_tables(edits_dir)
    assert tables.ptp("97161", "97140", date(2026, 3, 2)) is not None  # either order
    assert tables.ptp("97110", "97112", date(2026, 3, 2)) is None  # indicator 9
    assert tables.mue_table(date(2025, 12, 31)) is None and tables.mue_table(date(2026, 1, 1)) is not None
    assert not tables.ptp_loaded(date(2019, 1, 1)) and tables.ptp_loaded(date(2026, 1, 1))


def test_pair_with_modifier_indicator_0_blocks(edits_dir: Path) -> None:
    rules = load_rules(edit_tables_dir=edits_dir)
    ev = run(therapy(code="97164", minutes=None, other_timed_minutes={"97530": 20}), rules)
    (pair,) = [f for f in ev.findings if f.rule == "ncci.pair"]
    assert pair.severity == "block" and "97530" in pair.message and not ev.billable


def test_pair_with_modifier_indicator_1_warns_and_names_59(edits_dir: Path) -> None:
    rules = load_rules(edit_tables_dir=edits_dir)
    ev = run(therapy(code="97161", minutes=None, other_timed_minutes={"97140": 20}), rules)
    (pair,) = [f for f in ev.findings if f.rule == "ncci.pair"]
    assert pair.severity == "warn" and "59" in pair.prompt


def test_deleted_pair_does_not_fire(edits_dir: Path) -> None:
    rules = load_rules(edit_tables_dir=edits_dir)
    ev = run(therapy(code="97161", minutes=None, other_timed_minutes={"97530": 20}), rules)
    assert "ncci.pair" not in rules_of(ev)


def test_existing_charge_of_another_service_counts_as_same_day(edits_dir: Path) -> None:
    rules = load_rules(edit_tables_dir=edits_dir)
    other = ExistingCharge("c1", "97140", date(2026, 3, 2), "billable", ())
    case = therapy(code="97161", minutes=None)
    ev = run(Case(case.record, "medicare", "PT", {"existing_charges": (other,)}), rules)
    assert "ncci.pair" in rules_of(ev)


def test_mue_line_edit_warns(edits_dir: Path) -> None:
    rules = load_rules(edit_tables_dir=edits_dir)
    ev = run(therapy(minutes=75), rules)  # 5 units > 4, MAI 1
    (mue,) = [f for f in ev.findings if f.rule == "mue.exceeded"]
    assert mue.severity == "warn"


def test_before_any_table_the_edits_are_not_checked(edits_dir: Path) -> None:
    rules = load_rules(edit_tables_dir=edits_dir)
    ev = run(therapy(service_date="2019-06-03"), rules)
    assert "ncci.not-checked" in rules_of(ev)
