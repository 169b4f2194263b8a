"""The scrub's own findings (billing_rules/data/scrub.toml), each where it fires and where it must not, and
the charge rebuilt from the export: same-day visit pooling, duplicates, the year's KX total, the period,
voids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from billing_rules import default_rules, load_rules
from billing_rules.loader import RuleSet
from smart_app.scrub.engine import Period, scrub_patient
from smart_app.scrub.ndjson import index_export
from smart_app.scrub.patient import map_patient
from tests.scrub_data import month_resources, therapy_visits, write_export

Rows = dict[str, dict[str, Any]]


def scrub(
    tmp_path: Path, resources: list[dict[str, Any]], rules: RuleSet | None = None, **period: Any
) -> Rows:
    write_export(tmp_path / "x", resources=resources)
    index = index_export(tmp_path / "x")
    out: Rows = {}
    for patient in index.patient_ids():
        data = map_patient(patient, [json.loads(line) for line in index.read_lines(patient)])
        for row in scrub_patient(data, index.shared, rules or default_rules(), Period(**period)):
            out[row["chargeitem"].split("/", 1)[1]] = row
    return out


def rules_of(row: dict[str, Any]) -> dict[str, str]:
    return {f["rule"]: f["severity"] for f in row["findings"]}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    return scrub(tmp_path_factory.mktemp("month"), month_resources())


def test_the_registry_holds_every_scrub_rule_with_its_text() -> None:
    registry = default_rules().registry
    ids = {rule for rule, _ in registry if rule.startswith("scrub.")}
    assert ids == {
        "scrub.minutes-undocumented",
        "scrub.curriculum-undocumented",
        "scrub.units-mismatch",
        "scrub.modifier-missing",
        "scrub.code-unreadable",
        "scrub.date-missing",
    }


def test_minutes_undocumented_fires_without_a_note_and_not_with_one(month: Rows) -> None:
    assert rules_of(month["ci-asthma-98960"])["scrub.minutes-undocumented"] == "warn"
    assert "scrub.minutes-undocumented" not in rules_of(month["ci-dm-98960"])
    message = next(
        f for f in month["ci-asthma-98960"]["findings"] if f["rule"] == "scrub.minutes-undocumented"
    )
    assert "checked as billed (1 unit(s))" in message["message"]


def test_curriculum_undocumented_replaces_the_clinicians_prompt_only_without_a_note(month: Rows) -> None:
    without = rules_of(month["ci-asthma-98960"])
    assert without["scrub.curriculum-undocumented"] == "warn" and "curriculum.missing" not in without
    assert "scrub.curriculum-undocumented" not in rules_of(month["ci-dm-98960"])


def test_units_above_the_documented_minutes_block(month: Rows) -> None:
    row = month["ci-copd-98960"]  # 2 units billed, the note says 35 minutes: one 30-minute unit
    assert rules_of(row)["scrub.units-mismatch"] == "block" and row["billable"] is False
    finding = next(f for f in row["findings"] if f["rule"] == "scrub.units-mismatch")
    assert "billed with 2 unit(s); the documented minutes (35) support 1" in finding["message"]
    assert "scrub.units-mismatch" not in rules_of(month["ci-dm-98960"])


def test_same_day_timed_codes_pool_their_minutes(month: Rows) -> None:
    # 23 + 15 minutes = 38: three units under the CMS total-minutes rule, 97110 x2 and 97112 x1 as billed.
    for charge in ("ci-knee-97110", "ci-knee-97112"):
        assert "scrub.units-mismatch" not in rules_of(month[charge])


def test_an_assistants_line_without_cq_blocks(month: Rows) -> None:
    row = month["ci-knee-pta-97110"]
    finding = next(f for f in row["findings"] if f["rule"] == "scrub.modifier-missing")
    assert finding["severity"] == "block" and "without CQ" in finding["message"]
    assert "scrub.modifier-missing" not in rules_of(month["ci-knee-97110"])  # the PT's line has its GP


def test_a_charge_without_the_modifier_extension_says_it_cannot_show_them(tmp_path: Path) -> None:
    resources = month_resources()
    for r in resources:
        if r.get("id") == "ci-knee-pta-97110":
            del r["extension"]
    row = scrub(tmp_path, resources)["ci-knee-pta-97110"]
    finding = next(f for f in row["findings"] if f["rule"] == "scrub.modifier-missing")
    assert finding["severity"] == "warn" and "carries no modifiers" in finding["message"]
    assert "GP" in finding["message"] and "CQ" in finding["message"]


def test_a_local_bill_code_alone_is_unreadable(month: Rows) -> None:
    row = month["ci-group-local"]
    assert rules_of(row) == {"scrub.code-unreadable": "block"} and row["code"] is None
    assert "EDU-GRP-1" in row["findings"][0]["message"]


def test_a_charge_with_no_date_anywhere_blocks(tmp_path: Path) -> None:
    resources = month_resources()
    for r in resources:
        if r.get("id") == "ci-dm-98960":
            del r["occurrenceDateTime"], r["context"]
    rows = scrub(tmp_path, resources, since=__import__("datetime").date(2026, 3, 1))
    assert rules_of(rows["ci-dm-98960"]) == {"scrub.date-missing": "block"}
    assert rows["ci-dm-98960"]["date"] is None
    # With the encounter still linked, its start gives the day.
    assert "scrub.date-missing" not in rules_of(rows["ci-dm-98960-dup"])


def test_medicare_98960_duplicates_and_an_invalid_diagnosis_come_from_the_engine(month: Rows) -> None:
    assert rules_of(month["ci-knee-98960"])["payer.not-covered"] == "block"
    assert rules_of(month["ci-dm-98960"])["duplicate.charge"] == "warn"
    assert rules_of(month["ci-dm-98960-dup"])["duplicate.charge"] == "warn"
    assert rules_of(month["ci-dm-unspec-98960"])["dx.not-billable"] == "block"
    assert "duplicate.charge" not in rules_of(month["ci-copd-98960"])


def test_an_add_on_line_is_judged_with_its_primary(month: Rows) -> None:
    addon, primary = month["ci-stroke-97551"], month["ci-stroke-97550"]
    assert "code.add-on-only" not in rules_of(addon)  # not evaluated alone
    blocks = {r for r, s in rules_of(primary).items() if s == "block"}
    assert blocks and blocks <= set(rules_of(addon)) and addon["billable"] is False


def test_an_add_on_line_without_its_primary_is_refused(tmp_path: Path) -> None:
    resources = [r for r in month_resources() if r.get("id") != "ci-stroke-97550"]
    assert rules_of(scrub(tmp_path, resources)["ci-stroke-97551"])["code.add-on-only"] == "block"


def test_voided_charges_are_not_scrubbed(month: Rows) -> None:
    assert "ci-obesity-void" not in month


def test_the_period_reports_its_charges_only(tmp_path: Path) -> None:
    from datetime import date

    rows = scrub(tmp_path, month_resources(), since=date(2026, 3, 1), until=date(2026, 3, 12))
    assert {r["date"] for r in rows.values()} <= {f"2026-03-{d:02d}" for d in range(1, 13)}
    assert "ci-dm-98960" in rows and "ci-knee-97110" not in rows and "ci-copd-98960" not in rows


def _with_estimates(tmp_path: Path, amount: float) -> RuleSet:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "fees.toml").write_text(
        f"""[[estimate]]
payer_class = "medicare"
codes = ["97110", "97112", "97140"]
low = {amount}
high = {amount}
checked = 2026-11-01
effective_from = 2026-01-01
effective_to = 2026-12-31
source = "Test fee schedule (local decision)"
decision = true
""",
        encoding="utf-8",
    )
    return load_rules([folder])


def test_the_years_charges_take_a_patient_past_the_kx_threshold(tmp_path: Path) -> None:
    rules = _with_estimates(tmp_path, 120.0)  # 3 lines a visit at $120 a unit: past $2,480 by the fifth visit
    resources = month_resources() + therapy_visits(visits=8)
    rows = scrub(tmp_path, resources, rules)
    visits = sorted((r for r in rows.values() if "-t" in r["chargeitem"]), key=lambda r: r["date"])
    first, last = visits[0], visits[-1]
    assert "scrub.modifier-missing" not in rules_of(first)
    kx = next(f for f in last["findings"] if f["rule"] == "scrub.modifier-missing")
    assert "KX" in kx["message"] and kx["severity"] == "block"
    assert any(f["rule"] == "kx.threshold" for f in last["findings"])


def _without_2026_medicare_figures() -> RuleSet:
    """The packaged rules as they were before the CY 2026 national amounts: a year with no figures loaded."""
    base = default_rules()
    kept = [
        e
        for e in base.entries("estimate")
        if not (e["payer_class"] == "medicare" and e["effective_from"].year == 2026 and e["high"] > 0)
    ]
    return RuleSet(tables={**base.tables, "estimate": kept}, files=base.files)


def test_an_unknown_amount_leaves_the_years_total_unknown(tmp_path: Path) -> None:
    rows = scrub(tmp_path, month_resources() + therapy_visits(visits=3), _without_2026_medicare_figures())
    later = next(r for r in rows.values() if r["chargeitem"].endswith("-t2-97110"))
    kx = [f for f in later["findings"] if f["rule"] == "kx.threshold"]
    assert kx and "was not given" in kx[0]["message"] and "KX" not in later["modifiers"]
    assert not any("KX" in f["message"] for f in later["findings"] if f["rule"] == "scrub.modifier-missing")


def test_the_packaged_2026_figures_rebuild_the_years_total(tmp_path: Path) -> None:
    """CY 2026 national amounts (docs/reference/pfs-2026.md): earlier visits' estimates give the total."""
    rows = scrub(tmp_path, month_resources() + therapy_visits(visits=3))
    later = next(r for r in rows.values() if r["chargeitem"].endswith("-t2-97110"))
    assert later["estimate"] is not None
    said = [f["message"] for f in later["findings"] if f["rule"] in ("kx.threshold", "estimate.not-loaded")]
    assert not [m for m in said if "was not given" in m or "No reimbursement estimate" in m]


def test_a_visits_pooled_units_are_checked_line_by_line(tmp_path: Path) -> None:
    rows = scrub(tmp_path, month_resources() + therapy_visits(visits=1))
    visit = [r for k, r in rows.items() if "-t0-" in k]
    assert len(visit) == 3 and not any("scrub.units-mismatch" in rules_of(r) for r in visit)
    resources = month_resources() + therapy_visits(visits=1)
    for r in resources:
        if r.get("id") == "ci-edu-knee-medicare-t0-97140":
            r["quantity"]["value"] = 2  # 57 minutes pool to 4 units; 5 are billed
    row = scrub(tmp_path / "more", resources)["ci-edu-knee-medicare-t0-97140"]
    assert rules_of(row)["scrub.units-mismatch"] == "block"


def test_a_findings_json_has_every_field() -> None:
    """Finding.to_dict is written by hand (asdict is slow): a field added later must reach the JSON."""
    from dataclasses import asdict, fields

    from billing_rules.model import Finding
    from billing_rules.visit import VisitFinding

    plain = Finding("r", "warn", "m", "p", "f", "s", ("https://a",))
    visit = VisitFinding("r", "warn", "m", "p", "f", "s", ("https://a",), code="97110")
    for finding, kind in ((plain, Finding), (visit, VisitFinding)):
        assert list(finding.to_dict()) == [f.name for f in fields(kind)]
        assert finding.to_dict() == {**asdict(finding), "source_urls": ["https://a"]}
