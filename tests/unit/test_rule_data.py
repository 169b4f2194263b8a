"""Shape of every packaged rule-data file, and the same validation for deployment override files."""

from __future__ import annotations

import itertools
import re
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from billing_rules import RuleDataError, catalogue, default_rules, evaluate, load_rules
from billing_rules.loader import Entry, use_deployment_rules
from billing_rules.model import ClinicalContext, Order, Payer, Provider, ServiceRecord
from billing_rules.schema import TABLES, validate_document
from smart_app.settings import load_settings, use_rule_settings

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
# Every reference note cites URLs: billing-rules.md (the first release) and rules-2027.md (issue 12).
NOTES = "\n".join(p.read_text(encoding="utf-8") for p in sorted(REFERENCE.glob("*.md")))
SYNTHEA = "https://github.com/smart-on-fhir/generated-sample-data"
# Cited beside the notes (said so in the entry): Synthea's repository, HL7's SNOMED procedure value set,
# a payer's CMS-1500 diagnosis-pointer reminder.
BEYOND_NOTES = {
    SYNTHEA,
    "https://hl7.org/fhir/R4/valueset-procedure-code.html",
    "http://www.tuftshealthplan.com/providers/provider.php?sec=news&content=reminder_diagnosis_pointers_on_cms-1500_claims",
}
TAG = re.compile(r"\[(P|S|P via S|P/S|S/P|UNVERIFIED)\]")
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
    "eval.level-higher",
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
        "therapy procedures",
        "modalities",
        "diabetes education and nutrition",
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


def test_default_rules_reads_the_deployment_directories_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "site.toml").write_text(
        "[[kx_threshold]]\namount = 2600\neffective_from = 2027-01-01\neffective_to = 2027-12-31\n"
        'source = "CMS CY2027 therapy thresholds (site update)"\n'
        'source_urls = ["https://www.cms.gov/Medicare/Billing/TherapyServices/Spotlight-Archive.html"]\n'
    )
    monkeypatch.setenv("SMART_EDU_RULES_DIR", str(tmp_path))
    try:
        use_rule_settings(load_settings())
        rules = default_rules()
        assert any(e["amount"] == 2600 for e in rules.entries("kx_threshold"))
        assert str(tmp_path / "site.toml") in rules.files
    finally:
        use_deployment_rules()
    assert str(tmp_path / "site.toml") not in default_rules().files


def test_a_named_payer_policy_applies_only_to_that_payer(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(
        '[[policy]]\npayer_class = "commercial"\npayer_name = "Acme Health"\n'
        'unit_method = "cms-total-minutes"\n'
        'effective_from = 2026-01-01\neffective_to = 2026-12-31\nsource = "Acme provider manual 2026"\n'
        'source_urls = ["https://acme.example/provider-manual-2026"]\n'
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
    for family in default_rules().entries("family"):
        assert "docs/reference/billing-rules.md §10" in family["source"], family["name"]
        snomed_from_synthea = "Synthea" in family["source"]
        assert snomed_from_synthea == (SYNTHEA in family["source_urls"]), family["name"]


# --- Sources a reader can follow (issue 3: every entry has a source) --------------------------------------


def packaged_entries() -> list[tuple[str, str, Entry]]:
    out = []
    for name in FILES:
        doc = tomllib.loads(DATA.joinpath(name).read_text(encoding="utf-8"))
        out += [(name, table, e) for table, entries in validate_document(doc, name).items() for e in entries]
    return out


def test_every_packaged_entry_has_a_url_or_is_a_decision_and_shows_its_confidence() -> None:
    for name, table, entry in packaged_entries():
        where = f"{name} [[{table}]] {entry['source']!r}"
        if entry.get("decision"):
            assert "decision" in entry["source"].casefold(), where
        else:
            assert entry["source_urls"], where
            assert TAG.search(entry["source"]), where  # [P] / [S] / [UNVERIFIED] kept visible
        assert all(u.startswith(("https://", "http://")) for u in entry.get("source_urls", ())), where


def test_every_url_is_one_the_reference_notes_cite() -> None:
    """No invented links: each URL is an inline source of billing-rules.md or one named beside it."""
    for name, table, entry in packaged_entries():
        for url in entry.get("source_urls", ()):
            assert url in NOTES or url in BEYOND_NOTES, f"{name} [[{table}]]: {url}"


def resolves(text: str, section: str) -> bool:
    """A heading numbered ``section`` (§8.2), or item Y of the numbered list under heading X (§0.1, §16.4)."""
    if re.search(rf"^#+ {re.escape(section)}[. ]", text, flags=re.M):
        return True
    top, _, item = section.partition(".")
    body = re.search(rf"^## {top}\. .*?(?=^## |\Z)", text, flags=re.M | re.S)
    return bool(item and body and re.search(rf"^{item}\. ", body.group(0), flags=re.M))


def test_every_section_reference_resolves_inside_the_repository() -> None:
    """'see docs/reference/<file> §N' names a file in the repo and a section N in it."""
    cited = 0
    refs = re.compile(r"(docs/reference/[\w.-]+\.md),? ((?:(?:and )?§[\d.]+(?:-[\d.]+)?,? ?)+)")
    for _, _, entry in packaged_entries():
        for path, sections in refs.findall(entry["source"]):
            text = (ROOT / path).read_text(encoding="utf-8")
            for section in re.findall(r"(\d+(?:\.\d+)?)", sections):
                assert resolves(text, section), f"{path} §{section}: {entry['source']}"
                cited += 1
    assert cited > 100


def test_rule_contract_decisions_say_so_plainly() -> None:
    decisions = [e for _, _, e in packaged_entries() if "rules-contract.md §3" in e["source"]]
    assert len(decisions) >= 8
    for entry in decisions:
        assert entry.get("decision") is True and "product decision" in entry["source"].casefold()
        assert "docs/reference/rules-contract.md §3" in entry["source"]


@pytest.mark.parametrize(
    ("table", "match", "verified"),
    [
        ("kx_threshold", lambda e: e["amount"] == 2480, False),  # 2026: secondary sources only (§8.2, §16.5)
        ("kx_threshold", lambda e: e["amount"] == 2330, True),  # 2024: Noridian [P]
        ("pt_telehealth_window", lambda e: e["effective_from"] == date(2020, 3, 1), False),  # start date
        (
            "medicare_telehealth_list",
            lambda e: "97110" in e["codes"] and e["effective_to"].year == 2026,
            False,
        ),
        ("medicare_telehealth_list", lambda e: e["effective_from"] == date(2027, 1, 1), False),  # carried
        ("estimate", lambda e: e["codes"] == ["99078"], False),  # 99078's Medicare status (§2)
        ("estimate", lambda e: e["codes"] == ["98960", "98961", "98962"], True),  # AAPC, LegalClarity [S]
    ],
)
def test_unverified_values_of_the_notes_are_marked_in_the_data(
    table: str, match: Any, verified: bool
) -> None:
    (entry,) = [e for e in default_rules().entries(table) if match(e)]
    assert entry.get("verified", True) is verified
    assert ("[UNVERIFIED]" in entry["source"]) is not verified


def test_readme_of_the_reference_notes_names_them() -> None:
    readme = (REFERENCE / "README.md").read_text(encoding="utf-8")
    for name in ("billing-rules.md", "rules-contract.md", "smart-fhir.md"):
        assert name in readme and (REFERENCE / name).is_file()


SOURCED = "effective_from = 2026-01-01\neffective_to = 2026-12-31\n[[kx_threshold]]\n"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('source = "plan letter"', "'source_urls' must list at least one http(s) URL"),
        ('source = "plan letter"\nsource_urls = []', "'source_urls' must list at least one http(s) URL"),
        ('source = "plan letter"\nsource_urls = ["ftp://plan.example/letter"]', "'source_urls' must be urls"),
        ('source = "plan letter"\nsource_urls = ["plan.example/letter"]', "'source_urls' must be urls"),
        ('source = "plan letter"\nsource_urls = ["https://plan.example/a b"]', "'source_urls' must be urls"),
        ('source = "plan letter"\ndecision = true', "'source' must say it is a decision"),
        (
            'source = "CMS page"\nsource_urls = ["https://cms.example/x"]\nverified = false',
            "lacks the [UNVERIFIED]",
        ),
        (
            'source = "CMS page [UNVERIFIED]"\nsource_urls = ["https://cms.example/x"]',
            "carries the [UNVERIFIED]",
        ),
        ('source = "plan letter"\nsource_urls = "https://plan.example"', "'source_urls' must be urls"),
    ],
)
def test_an_override_without_a_followable_source_is_refused(
    tmp_path: Path, fields: str, message: str
) -> None:
    (tmp_path / "site.toml").write_text(
        f"[[kx_threshold]]\namount = 2600\neffective_from = 2027-01-01\neffective_to = 2027-12-31\n{fields}\n"
    )
    with pytest.raises(RuleDataError) as err:
        load_rules([tmp_path])
    assert (
        message in str(err.value)
        and "site.toml #1" in str(err.value)
        and "[[kx_threshold]]" in str(err.value)
    )


@pytest.mark.parametrize(
    "fields",
    [
        'source = "CMS CY2027 thresholds"\nsource_urls = ["https://www.cms.gov/x"]',
        'source = "Acme contract 2027 (local decision)"\ndecision = true',
        'source = "Forecast [UNVERIFIED]"\nsource_urls = ["http://forecast.example/kx"]\nverified = false',
    ],
)
def test_an_override_with_a_url_or_a_stated_decision_loads(tmp_path: Path, fields: str) -> None:
    (tmp_path / "site.toml").write_text(
        f"[[kx_threshold]]\namount = 2600\neffective_from = 2027-01-01\neffective_to = 2027-12-31\n{fields}\n"
    )
    assert any(e["amount"] == 2600 for e in load_rules([tmp_path]).entries("kx_threshold"))


# --- What a biller sees: a finding's source, an estimate's basis --------------------------------------------


def _medicare_pt(**fields: Any) -> tuple[ServiceRecord, ClinicalContext]:
    record = ServiceRecord(code="97110", service_date=date(2026, 6, 1), minutes=30, **fields)
    context = ClinicalContext(payer=Payer(payer_class="medicare"), provider=Provider(role="PT"))
    return record, context


def test_a_finding_resting_on_an_unverified_value_says_so_with_its_urls() -> None:
    record, context = _medicare_pt(
        therapy_ytd_allowed=2500.0, plan_of_care_certified=True, diagnoses=("M54.50",)
    )
    (kx,) = [f for f in evaluate(record, context).findings if f.rule == "kx.threshold"]
    assert "[UNVERIFIED]" in kx.source and "value used:" in kx.source and "$2,480" not in kx.source
    assert (
        "https://alsintegratedsvc.com/beyond-the-2480-threshold-mastering-the-kx-modifier-in-2026/"
        in kx.source_urls
    )
    assert (
        "https://med.noridianmedicare.com/web/jea/provider-types/outpatient-therapy/per-beneficiary_kx_modifier_thresholds"
        in kx.source_urls
    )
    assert kx.to_dict()["source_urls"] == list(kx.source_urls)


def test_a_finding_on_a_verified_value_carries_only_its_registry_source() -> None:
    record = ServiceRecord(
        code="97110", service_date=date(2024, 6, 1), minutes=30, therapy_ytd_allowed=2400.0
    )
    context = ClinicalContext(payer=Payer(payer_class="medicare"), provider=Provider(role="PT"))
    (kx,) = [f for f in evaluate(record, context).findings if f.rule == "kx.threshold"]
    assert "[UNVERIFIED]" not in kx.source and kx.source.startswith("Noridian")
    assert "docs/reference/billing-rules.md §8.2" in kx.source


def test_an_orientation_estimate_reads_as_one_with_its_year_check_date_and_urls() -> None:
    record = ServiceRecord(
        code="98960",
        service_date=date(2026, 6, 1),
        minutes=30,
        curriculum="ADCES7",
        topics=("eating",),
        diagnoses=("E11.9",),
    )
    order = Order(
        "o", text="Diabetes education", status="active", intent="order", authored_on=date(2026, 5, 1)
    )
    context = ClinicalContext(
        payer=Payer(payer_class="commercial"), provider=Provider(role="RN"), orders=(order,)
    )
    est = evaluate(record, context).estimate
    assert est is not None and est.low == 35 and est.high == 65
    assert est.basis.startswith(
        "98960 (2025-2026; checked 2026-11-01): Orientation range for commercial plans"
    )
    assert "replace with your fee schedule" in est.basis and "product decision" in est.basis
    assert est.basis_urls and all(u in NOTES for u in est.basis_urls)


def test_the_unverified_medicare_status_of_99078_shows_in_the_basis() -> None:
    record = ServiceRecord(code="99078", service_date=date(2026, 6, 1), diagnoses=("E11.9",))
    context = ClinicalContext(payer=Payer(payer_class="medicare"), provider=Provider(role="MD"))
    ev = evaluate(record, context)
    assert ev.estimate is not None and ev.estimate.high == 0 and "[UNVERIFIED]" in ev.estimate.basis
    (not_covered,) = [f for f in ev.findings if f.rule == "payer.not-covered"]
    assert (
        "value used: Medicare is expected not to pay 99078; its Medicare status [UNVERIFIED]"
        in not_covered.source
    )
    record = ServiceRecord(code="98960", service_date=date(2026, 6, 1), minutes=30)
    ev = evaluate(record, ClinicalContext(payer=Payer(payer_class="medicare"), provider=Provider(role="RN")))
    (sourced,) = [f for f in ev.findings if f.rule == "payer.not-covered"]
    assert "[UNVERIFIED]" not in sourced.source and "[S]" in sourced.source  # 98960: AAPC, LegalClarity


def test_a_code_off_the_telehealth_list_names_the_unverified_list_it_was_checked_against() -> None:
    context = ClinicalContext(payer=Payer(payer_class="medicare"), provider=Provider(role="RN"))
    video = {"service_date": date(2026, 6, 1), "mode": "video", "location": "home", "minutes": 30}
    ev = evaluate(ServiceRecord(code="98960", **video), context)  # type: ignore[arg-type]
    (off,) = [f for f in ev.findings if f.rule == "telehealth.not-covered"]
    assert "not on the Medicare Telehealth Services List" in off.message
    assert "CY 2026 membership [UNVERIFIED]" in off.source and off.source_urls
    ev = evaluate(ServiceRecord(code="97110", **video), context)  # type: ignore[arg-type]
    assert not [f for f in ev.findings if f.rule == "telehealth.not-covered"]


def test_the_deployment_example_in_docs_rules_md_loads(tmp_path: Path) -> None:
    """docs/rules.md tells the truth: its override example passes the same validation as the package."""
    doc = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    (tmp_path / "acme.toml").write_text(example)
    rules = load_rules([tmp_path])
    acme, _ = rules.policy("commercial", "Acme Health", date(2026, 5, 1))
    assert acme["unit_method"] == "cms-total-minutes" and acme["source_urls"]
