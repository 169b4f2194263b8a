"""The compact ICD-10-CM index agrees with simple-icd-10-cm, and billing_rules never imports the library."""

from __future__ import annotations

import random
import subprocess
import sys
import warnings
from datetime import date
from types import ModuleType

import pytest

from billing_rules import icd10


@pytest.fixture(scope="module")
def library() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm

    return simple_icd_10_cm


def test_index_agrees_with_the_library_on_a_sample(library: ModuleType) -> None:
    codes = [c for c in library.get_all_codes(True) if not library.is_chapter_or_block(c)]
    sample = [
        *random.Random(2026).sample(codes, 3000),
        "E11.9",
        "E11",
        "M54.5",
        "M54.50",
        "S72.001",
        "S72.001A",
    ]
    for code in sample:
        assert icd10.is_valid(code), code
        assert icd10.is_billable(code) == library.is_leaf(code), code
        assert icd10.describe(code) == library.get_description(code), code


def test_index_holds_every_library_code(library: ModuleType) -> None:
    expected = {c for c in library.get_all_codes(True) if not library.is_chapter_or_block(c)}
    assert {c for c in expected if icd10.is_valid(c)} == expected


@pytest.mark.parametrize(
    ("code", "valid", "billable"),
    [
        ("E11.9", True, True),
        ("e119", True, True),
        (" E11.9 ", True, True),
        ("E11", True, False),
        ("M54.5", True, False),
        ("M54.50", True, True),
        ("S72.001", True, False),
        ("S72.001A", True, True),
        ("E11.99", False, False),
        ("ZZZ", False, False),
        ("A00-A09", False, False),
        ("", False, False),
    ],
)
def test_valid_and_billable(code: str, valid: bool, billable: bool) -> None:
    assert icd10.is_valid(code, date(2026, 3, 1)) is valid
    assert icd10.is_billable(code, date(2026, 3, 1)) is billable


@pytest.mark.parametrize(
    ("raw", "norm"), [("e119", "E11.9"), ("E11.9", "E11.9"), (" i 10 ", "I10"), ("s72001a", "S72.001A")]
)
def test_normalise(raw: str, norm: str) -> None:
    assert icd10.normalise(raw) == norm


def test_code_set_periods_fy2025_to_fy2027() -> None:
    inside = icd10.code_set_for(date(2026, 9, 30))
    assert inside.covers and inside.name == "FY2026" and not inside.partial
    assert inside.valid_from == date(2025, 10, 1) and inside.valid_to == date(2026, 9, 30)
    assert icd10.code_set_for(date(2025, 9, 30)).name == "FY2025"
    fy2027 = icd10.code_set_for(date(2026, 10, 1))
    assert fy2027.name == "FY2027" and fy2027.covers and fy2027.partial  # a subset of categories
    assert fy2027.holds("E11.9") and not fy2027.holds("A00.9")
    before = icd10.code_set_for(date(2024, 9, 30))
    assert not before.covers and before.name == "FY2025"  # nearest full set, said to be outside
    assert not icd10.code_set_for(date(2027, 10, 1)).covers


@pytest.mark.parametrize(
    ("code", "on", "valid", "billable"),
    [
        ("E11.A", date(2025, 6, 10), False, False),  # added FY2026 (issue 12)
        ("E11.A", date(2025, 9, 30), False, False),
        ("E11.A", date(2025, 10, 1), True, True),
        ("E11.A", date(2026, 10, 1), True, True),
        ("E11.9", date(2025, 6, 10), True, True),
        ("C78.31", date(2026, 9, 30), False, False),  # added FY2027
        ("C78.31", date(2026, 10, 1), True, True),
        ("Z68.18", date(2026, 10, 1), True, True),
        ("Z68.1", date(2026, 9, 30), True, True),  # a leaf until FY2027 split it
        ("Z68.1", date(2026, 10, 1), True, False),
        ("B20", date(2026, 3, 1), True, True),  # a category that is its own block
    ],
)
def test_validity_follows_the_fiscal_year(code: str, on: date, valid: bool, billable: bool) -> None:
    look = icd10.lookup(code, on)
    assert (look.valid, look.billable, look.checked) == (valid, billable, True)


def test_a_category_fy2027_does_not_hold_is_not_checked_for_fy2027() -> None:
    look = icd10.lookup("A00.9", date(2026, 12, 4))
    assert look.valid and look.billable and not look.checked
    assert look.wanted == "FY2027" and look.code_set.name == "FY2026"
    assert icd10.lookup("A00.9", date(2026, 9, 30)).checked


def test_fiscal_year() -> None:
    assert icd10.fiscal_year(date(2026, 9, 30)) == "FY2026"
    assert icd10.fiscal_year(date(2026, 10, 1)) == "FY2027"


def test_valid_years() -> None:
    assert icd10.valid_years("E11.A") == ["FY2026", "FY2027"]
    assert icd10.valid_years("E11.9") == ["FY2025", "FY2026", "FY2027"]


def test_search_by_words_and_by_code() -> None:
    hits = icd10.search("type 2 diabetes without complications")
    assert ("E11.9", "Type 2 diabetes mellitus without complications") in hits
    assert icd10.search("J45.90", limit=3)[0][0].startswith("J45.90")
    assert len(icd10.search("pain", limit=5)) == 5
    assert icd10.search("   ") == []
    billable_first = icd10.search("low back pain")
    assert icd10.is_billable(billable_first[0][0])


def test_children_examples_for_a_category() -> None:
    assert icd10.children_examples("M54.5") == ["M54.50", "M54.51", "M54.59"]


def test_billing_rules_never_imports_simple_icd_10_cm() -> None:
    script = (
        "import sys, billing_rules\n"
        "from billing_rules.model import ClinicalContext\n"
        "r = billing_rules.parse_service_record({'code': '98960', 'minutes': 30, 'diagnoses': ['E11.9'],"
        " 'service_date': '2026-03-02'})\n"
        "billing_rules.evaluate(r, ClinicalContext())\n"
        "billing_rules.icd10.search('asthma')\n"
        "assert 'simple_icd_10_cm' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
