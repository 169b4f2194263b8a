"""Shape of every packaged rule-data file, and the same validation for deployment override files."""

from __future__ import annotations

import itertools
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from billing_rules import RuleDataError, catalogue, default_rules, load_rules
from billing_rules.loader import RULES_DIR_ENV
from billing_rules.model import ServiceRecord
from billing_rules.schema import TABLES, validate_document

DATA = resources.files("billing_rules.data")
FILES = sorted(p.name for p in DATA.iterdir() if p.name.endswith(".toml"))
REQUIRED_CODES = [
    "98960",
    "98961",
    "98962",
    "99078",
    "97110",
    "97112",
    "97530",
    "97535",
    "97161",
    "97162",
    "97163",
    "97164",
    "97550",
    "97551",
    "97552",
    "98975",
    "98976",
    "98977",
    "98978",
    "98979",
    "98980",
    "98981",
    "98984",
    "98985",
    "98986",
    "99202",
    "99203",
    "99204",
    "99205",
    "99211",
    "99212",
    "99213",
    "99214",
    "99215",
]
CONTRACT_BLOCK = [
    "rules.not-evaluated",
    "provider.wrong-family",
    "provider.not-qualified",
    "order.missing",
    "curriculum.missing",
    "time.missing",
    "time.below-minimum",
    "group.size-mismatch",
    "patient.not-present",
    "patient.deceased",
    "dx.missing",
    "dx.invalid",
    "dx.not-billable",
    "telehealth.not-covered",
    "consent.missing",
    "rtm.days",
    "rtm.interaction-missing",
    "rtm.rpm-same-month",
    "mue.exceeded",
    "payer.not-covered",
]
CONTRACT_WARN = [
    "payer.unknown",
    "dx.not-supporting",
    "dx.needs-icd10",
    "poc.uncertified",
    "eval.components-missing",
    "eval.level-unsupported",
    "duplicate.charge",
    "kx.threshold",
    "ncci.pair",
]
CONTRACT_INFO = ["telehealth.place-of-service", "modifier.therapy", "assistant.cq", "ncci.not-checked"]


@pytest.mark.parametrize("name", FILES)
def test_every_packaged_file_has_the_expected_shape(name: str) -> None:
    doc = tomllib.loads(DATA.joinpath(name).read_text(encoding="utf-8"))
    tables = validate_document(doc, name)
    assert tables
    for table, entries in tables.items():
        for entry in entries:
            assert entry["source"].strip()
            if table != "rule":
                assert isinstance(entry["effective_from"], date) and isinstance(entry["effective_to"], date)


def test_every_table_kind_has_packaged_data() -> None:
    assert set(default_rules().tables) == set(TABLES)


def test_catalogue_covers_the_issue_codes_with_our_fields() -> None:
    codes = {c.code: c for c in catalogue()}
    assert set(REQUIRED_CODES) <= set(codes)
    record_fields = set(ServiceRecord.__dataclass_fields__)
    for info in codes.values():
        assert set(info.fields) <= record_fields, info.code
        assert 10 < len(info.paraphrase) < 110  # our own one-line paraphrase, not a descriptor
    groups = {c.group for c in codes.values()}
    assert {
        "self-management education",
        "group education",
        "therapy with education",
        "evaluations",
        "caregiver training",
        "remote monitoring",
        "E/M",
    } == groups


def test_catalogue_on_a_date_leaves_out_codes_not_yet_in_force() -> None:
    old = {c.code for c in catalogue(on=date(2025, 6, 1))}
    assert "98985" not in old and "98977" in old


@pytest.mark.parametrize(
    ("severity", "ids"), [("block", CONTRACT_BLOCK), ("warn", CONTRACT_WARN), ("info", CONTRACT_INFO)]
)
def test_default_severities_match_the_contract(severity: str, ids: list[str]) -> None:
    registry = default_rules().registry
    for rule_id in ids:
        variants = {entry["severity"] for (rid, _), entry in registry.items() if rid == rule_id}
        assert severity in variants, rule_id


@pytest.mark.parametrize(
    ("year", "amount"), [(2021, 2110), (2022, 2150), (2023, 2230), (2024, 2330), (2025, 2410), (2026, 2480)]
)
def test_kx_thresholds_2021_to_2026(year: int, amount: int) -> None:
    (entry,) = [e for e in default_rules().entries("kx_threshold") if e["effective_from"].year == year]
    assert entry["amount"] == amount and entry["effective_to"] == date(year, 12, 31)


def test_pt_telehealth_windows_leave_no_gap_through_2027() -> None:
    windows = sorted(default_rules().entries("pt_telehealth_window"), key=lambda e: e["effective_from"])
    for before, after in itertools.pairwise(windows):
        assert (after["effective_from"] - before["effective_to"]).days == 1
    assert windows[-1]["effective_to"] == date(2027, 12, 31)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[colour]]\nname = "x"\n', "unknown table 'colour'"),
        (
            "[[kx_threshold]]\namount = 1\neffective_from = 2026-01-01\neffective_to = 2026-12-31\n",
            "'source'",
        ),
        (
            "[[kx_threshold]]\namount = 1\neffective_from = 2027-01-01\neffective_to = 2026-12-31\n"
            'source = "x"\n',
            "effective_from is after effective_to",
        ),
        (
            '[[policy]]\npayer_class = "martian"\neffective_from = 2026-01-01\neffective_to = 2026-12-31\n'
            'source = "x"\n',
            "payer_class",
        ),
        (
            '[[policy]]\npayer_class = "commercial"\nunit_method = "rounding"\neffective_from = 2026-01-01\n'
            'effective_to = 2026-12-31\nsource = "x"\n',
            "unit_method",
        ),
        (
            '[[policy]]\npayer_class = "commercial"\npays = true\neffective_from = 2026-01-01\n'
            'effective_to = 2026-12-31\nsource = "x"\n',
            "unknown field 'pays'",
        ),
        (
            '[[estimate]]\npayer_class = "commercial"\ncodes = ["98960"]\nlow = 9\nhigh = 5\n'
            "checked = 2026-01-01\n"
            'effective_from = 2026-01-01\neffective_to = 2026-12-31\nsource = "x"\n',
            "low is above high",
        ),
        (
            '[[kx_threshold]]\namount = "lots"\neffective_from = 2026-01-01\neffective_to = 2026-12-31\n'
            'source = "x"\n',
            "'amount' must be num",
        ),
        ("this is = = not toml", "not valid TOML"),
        ("kx_threshold = 5\n", "array of tables"),
    ],
)
def test_override_files_are_validated_with_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "site.toml").write_text(text)
    with pytest.raises(RuleDataError) as err:
        load_rules([tmp_path])
    assert message in str(err.value) and "site.toml" in str(err.value)


def test_missing_override_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleDataError, match="does not exist"):
        load_rules([tmp_path / "nope"])


def test_default_rules_reads_the_environment_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "site.toml").write_text(
        "[[kx_threshold]]\namount = 2600\neffective_from = 2027-01-01\neffective_to = 2027-12-31\n"
        'source = "CMS CY2027 (site update)"\n'
    )
    monkeypatch.setenv(RULES_DIR_ENV, str(tmp_path))
    default_rules.cache_clear()
    try:
        rules = default_rules()
        assert any(e["amount"] == 2600 for e in rules.entries("kx_threshold"))
        assert str(tmp_path / "site.toml") in rules.files
    finally:
        monkeypatch.delenv(RULES_DIR_ENV)
        default_rules.cache_clear()


def test_a_named_payer_policy_applies_only_to_that_payer(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(
        '[[policy]]\npayer_class = "commercial"\npayer_name = "Acme Health"\n'
        'unit_method = "cms-total-minutes"\n'
        'effective_from = 2026-01-01\neffective_to = 2026-12-31\nsource = "Acme provider manual 2026"\n'
    )
    rules = load_rules([tmp_path])
    acme, covered = rules.policy("commercial", "acme health", date(2026, 5, 1))
    other, _ = rules.policy("commercial", "Other Plan", date(2026, 5, 1))
    assert covered and acme["unit_method"] == "cms-total-minutes" and other["unit_method"] == "ama-per-code"
    assert acme["not_paid"] == [] and acme["order_required"] == ["98960", "98961", "98962"]


def test_condition_families_as_data() -> None:
    from billing_rules import snomed_family, supporting_family

    assert supporting_family("E11.9") == "diabetes"
    assert supporting_family("e119") == "diabetes"
    assert supporting_family("I50.9") == "heart failure"
    assert supporting_family("M54.50") == "low back pain"
    assert supporting_family("M54.5") is None
    assert supporting_family("S93.401A") is None
    assert snomed_family("195967001") == "asthma"
    assert snomed_family("38341003") == "hypertensive disease"
    assert snomed_family("10509002") is None  # acute bronchitis
    assert all("SOURCES.md" in f["source"] or "§10" in f["source"] for f in default_rules().entries("family"))
