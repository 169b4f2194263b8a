"""Rule data for 2027 (issue 12): never another year's value silently, the code set in force on the date."""

from __future__ import annotations

from billing_rules.model import Evaluation, Finding
from tests.unit.test_rules_registry import education, run, therapy


def found(ev: Evaluation, rule: str, variant_text: str = "") -> list[Finding]:
    return [f for f in ev.findings if f.rule == rule and variant_text in f.message]


def test_kx_in_2027_is_not_checked_against_2026s_amount() -> None:
    ev = run(therapy(service_date="2027-01-04", therapy_ytd_allowed=2600.0))
    assert not any(f.rule == "kx.threshold" for f in ev.findings)
    assert "KX" not in ev.charge_lines[0].modifiers
    (gap,) = found(ev, "rules.out-of-period", "KX threshold for 2027 is not loaded")
    assert gap.severity == "warn" and "not checked for 2027" in gap.message and "2026-12-04" in gap.prompt


def test_kx_on_the_last_day_of_2026_uses_2026s_amount() -> None:
    ev = run(therapy(service_date="2026-12-31", therapy_ytd_allowed=2600.0))
    assert "KX" in ev.charge_lines[0].modifiers
    assert not [f for f in found(ev, "rules.out-of-period") if f.severity == "warn"]


def test_medicare_pt_telehealth_in_2027_is_billable_with_the_carried_list_named() -> None:
    ev = run(therapy(service_date="2027-03-02", mode="video", location="home", therapy_ytd_allowed=100.0))
    assert not any(f.rule == "telehealth.not-covered" for f in ev.findings), ev.findings
    (carried,) = found(ev, "rules.out-of-period", "carried forward")
    assert carried.severity == "info" and "2027" in carried.message


def test_medicare_pt_telehealth_after_the_statutory_window_is_blocked() -> None:
    ev = run(therapy(service_date="2028-01-03", mode="video", location="home", therapy_ytd_allowed=100.0))
    assert any(f.rule == "telehealth.not-covered" for f in ev.findings)


def test_a_code_before_it_took_effect_is_invalid_on_that_date() -> None:
    ev = run(education(service_date="2025-06-10", diagnoses=["E11.A"]))
    (invalid,) = [f for f in ev.findings if f.rule == "dx.invalid"]
    assert "2025-06-10" in invalid.message and "FY2025" in invalid.message and "FY2026" in invalid.message
    assert not ev.billable
    assert not any(
        f.rule == "dx.invalid"
        for f in run(education(service_date="2025-10-01", diagnoses=["E11.A"])).findings
    )


def test_a_fy2027_split_makes_the_old_leaf_not_billable() -> None:
    ev = run(education(service_date="2026-10-05", diagnoses=["E11.9", "Z68.1"]))
    assert any(f.rule == "dx.not-billable" and "Z68.1" in f.message for f in ev.findings)


def test_a_category_fy2027_is_not_loaded_for_says_not_checked_once() -> None:
    ev = run(education(service_date="2026-12-04", diagnoses=["E11.9", "A08.4", "A00.9"]))
    (warn,) = found(ev, "rules.out-of-period", "not checked for FY2027")
    assert "A08.4, A00.9" in warn.message and "FY2026" in warn.message and "E11.9" not in warn.message
    fy2026 = run(education(service_date="2026-09-30", diagnoses=["A00.9"]))
    assert not found(fy2026, "rules.out-of-period")


def test_a_fully_checked_fy2027_diagnosis_has_no_period_notice() -> None:
    ev = run(education(service_date="2026-12-04", diagnoses=["E11.9"]))
    assert not found(ev, "rules.out-of-period")
