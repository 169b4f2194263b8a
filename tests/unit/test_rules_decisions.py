"""Every decision of rules-contract §3, and the shape of what evaluate() returns (lines, POS, estimate)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from billing_rules import RuleDataError, evaluate, load_rules, parse_service_record
from billing_rules.model import (
    ClinicalContext,
    EncounterInfo,
    Evaluation,
    ExistingCharge,
    Finding,
    Payer,
    Provider,
)
from tests.unit.test_rules_registry import (
    EDUCATION,
    ON,
    ORDER,
    education,
    rules_of,
    run,
    therapy,
)


def by_rule(ev: Evaluation, rule: str) -> list[Finding]:
    return [f for f in ev.findings if f.rule == rule]


# --- 98960-98962 under Medicare FFS are not separately payable -------------------------------------------


@pytest.mark.parametrize(
    ("role", "named", "not_named"),
    [
        ("RN", ("G0108/G0109",), ("97110", "97802-97804", "97550-97552")),
        ("RD", ("G0108/G0109", "97802-97804"), ("97110", "97550-97552")),
        ("PT", ("97535", "97110", "97530", "97550-97552"), ("G0108/G0109", "97802-97804")),
        ("unknown", ("97535", "97550-97552", "G0108/G0109", "97802-97804"), ()),
    ],
)
def test_medicare_blocks_98960_and_names_the_routes_that_fit_the_role(
    role: str, named: tuple[str, ...], not_named: tuple[str, ...]
) -> None:
    ev = run(education(payer="medicare", role=role))
    (finding,) = by_rule(ev, "payer.not-covered")
    assert finding.severity == "block" and not ev.billable
    assert all(route in finding.prompt for route in named), finding.prompt
    assert not any(route in finding.prompt for route in not_named), finding.prompt
    assert "only if the service met that code's definition" in finding.prompt
    assert "GY" in finding.prompt and "ABN" in finding.prompt
    assert ev.estimate is not None and (ev.estimate.low, ev.estimate.high) == (0, 0)


def test_the_routes_follow_the_linked_diagnoses() -> None:
    asthma = run(education(payer="medicare", role="RD", diagnoses=["J45.909"]))
    (finding,) = by_rule(asthma, "payer.not-covered")
    assert "No payable route fits a dietitian" in finding.prompt
    ckd = run(education(payer="medicare", role="RD", diagnoses=["N18.30"]))
    (finding,) = by_rule(ckd, "payer.not-covered")
    assert "97802-97804" in finding.prompt and "G0108/G0109" not in finding.prompt


@pytest.mark.parametrize("payer", ["medicaid", "commercial"])
def test_other_payer_classes_may_pay_98960(payer: str) -> None:
    assert "payer.not-covered" not in rules_of(run(education(payer=payer)))


def test_medicare_advantage_warns_on_98960_as_plans_differ() -> None:
    ev = run(education(payer="medicare-advantage"))
    (finding,) = by_rule(ev, "payer.not-covered")
    assert finding.severity == "warn" and ev.billable and "G0108/G0109" in finding.prompt


def test_99078_is_not_paid_by_medicare() -> None:
    ev = run(education(payer="medicare", role="MD", code="99078", patients_in_group=4))
    assert "payer.not-covered" in rules_of(ev)


def test_a_deployment_contract_can_make_medicare_class_pay_98960(tmp_path: Path) -> None:
    (tmp_path / "contract.toml").write_text(
        '[[policy]]\npayer_class = "medicare"\nnot_paid = ["99078"]\n'
        "effective_from = 2026-01-01\neffective_to = 2026-12-31\n"
        'source = "our contract 2026 (local decision)"\ndecision = true\n'
    )
    ev = run(education(payer="medicare"), load_rules([tmp_path]))
    assert "payer.not-covered" not in rules_of(ev)


# --- Estimates, not prices -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payer", "low", "high"),
    [("medicaid", 25, 40), ("commercial", 35, 65), ("medicare-advantage", 30, 50), ("medicare", 0, 0)],
)
def test_default_98960_estimates_per_unit(payer: str, low: int, high: int) -> None:
    ev = run(education(payer=payer, minutes=50))  # 2 units
    assert ev.estimate is not None
    assert (ev.estimate.low, ev.estimate.high) == (2 * low, 2 * high)
    assert ev.estimate.payer_class == payer and "checked 2026-11-01" in ev.estimate.basis


def test_no_estimate_when_no_range_is_on_file() -> None:
    assert run(therapy(service_date="2025-06-10")).estimate is None  # no 2025 Medicare figures are packaged


def test_estimate_outside_its_period_is_said_once_as_not_loaded(tmp_path: Path) -> None:
    ev = run(education(service_date="2027-02-01"))
    assert ev.estimate is None
    assert not [f for f in by_rule(ev, "rules.out-of-period") if "estimate" in f.message]  # no period noise
    (said,) = by_rule(ev, "estimate.not-loaded")
    assert said.severity == "info"


def test_a_blocked_line_has_no_estimate_notice_but_keeps_the_figure_at_risk() -> None:
    ev = run(education(code="98961", patients_in_group=3, curriculum=None))  # no range loaded for 98961
    assert not ev.billable and not by_rule(ev, "estimate.not-loaded")
    assert by_rule(run(education(code="98961", patients_in_group=3)), "estimate.not-loaded")
    blocked = run(education(curriculum=None))
    assert not blocked.billable and blocked.estimate is not None  # scrub's revenue at risk


def test_a_deployment_fee_schedule_replaces_the_range(tmp_path: Path) -> None:
    (tmp_path / "fees.toml").write_text(
        '[[estimate]]\npayer_class = "commercial"\npayer_name = "Acme Health"\ncodes = ["98960"]\nlow = 52\n'
        "high = 52\nchecked = 2026-10-01\neffective_from = 2026-01-01\neffective_to = 2026-12-31\n"
        'source = "Acme Health fee schedule 2026"\nsource_urls = ["https://acme.example/fees/2026"]\n'
    )
    rules = load_rules([tmp_path])
    record = parse_service_record(EDUCATION)
    context = ClinicalContext(
        payer=Payer("commercial", name="Acme Health"), provider=Provider("RN"), orders=(ORDER,)
    )
    ev = evaluate(record, context, rules=rules)
    assert (
        ev.estimate is not None and ev.estimate.low == 52 and "Acme Health fee schedule" in ev.estimate.basis
    )
    other = evaluate(
        record,
        ClinicalContext(payer=Payer("commercial", name="Other"), provider=Provider("RN"), orders=(ORDER,)),
        rules=rules,
    )
    assert other.estimate is not None and other.estimate.low == 35


# --- Unit method is a payer setting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payer", "units"),
    [("medicare", 1), ("medicare-advantage", 1), ("medicaid", 1), ("commercial", 0), ("self-pay", 0)],
)
def test_pooled_minutes_for_federal_payers_per_code_for_commercial(payer: str, units: int) -> None:
    ev = run(therapy(payer=payer, minutes=7, other_timed_minutes={"97140": 7}))
    got = {line.code: line.units for line in ev.charge_lines}
    assert got.get("97110", 0) == units
    assert ("time.below-minimum" in rules_of(ev)) is (units == 0)


def test_untimed_minutes_are_left_out_of_the_cms_pool() -> None:
    ev = run(therapy(minutes=7, other_timed_minutes={"97161": 40}))
    assert "time.below-minimum" in rules_of(ev)


def test_thirty_minute_codes_use_the_midpoint_even_for_cms_payers() -> None:
    ev = run(education(payer="medicaid", minutes=16))
    assert [(line.code, line.units) for line in ev.charge_lines] == [("98960", 1)]


def test_full_unit_payer_needs_the_full_30_minutes(tmp_path: Path) -> None:
    (tmp_path / "strict.toml").write_text(
        '[[policy]]\npayer_class = "commercial"\nunit_method = "full-unit"\n'
        "effective_from = 2026-01-01\neffective_to = 2026-12-31\n"
        'source = "plan policy (local decision)"\ndecision = true\n'
    )
    rules = load_rules([tmp_path])
    assert "time.below-minimum" in rules_of(run(education(minutes=29), rules))
    assert [line.units for line in run(education(minutes=30), rules).charge_lines] == [1]


# --- NP/PA documenting 98960-98962 -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["MD", "DO", "NP", "PA"])
def test_em_eligible_roles_get_wrong_family(role: str) -> None:
    (finding,) = by_rule(run(education(role=role)), "provider.wrong-family")
    assert finding.severity == "block" and "99078" in finding.prompt


def test_a_payer_policy_may_allow_np_education(tmp_path: Path) -> None:
    (tmp_path / "np.toml").write_text(
        '[[policy]]\npayer_class = "commercial"\neducation_roles_allowed = ["NP"]\n'
        "effective_from = 2026-01-01\neffective_to = 2026-12-31\n"
        'source = "plan policy (local decision)"\ndecision = true\n'
    )
    assert "provider.wrong-family" not in rules_of(run(education(role="NP"), load_rules([tmp_path])))


def test_therapist_documenting_em_is_wrong_family_and_md_em_is_out_of_scope() -> None:
    assert "provider.wrong-family" in rules_of(run(therapy(code="99213")))
    ev = run(therapy(code="99213", role="MD"))
    assert [f.rule for f in ev.findings] == ["rules.not-evaluated"] and not ev.billable


# --- Year-bound values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "ytd", "kx"),
    [
        ("2021-06-01", 2120, True),
        ("2024-06-01", 2340, True),
        ("2025-06-01", 2340, False),
        ("2026-06-01", 2479, False),
        ("2026-06-01", 2480, True),
    ],
)
def test_kx_threshold_by_year(day: str, ytd: float, kx: bool) -> None:
    ev = run(therapy(service_date=day, therapy_ytd_allowed=ytd))
    assert ("KX" in ev.charge_lines[0].modifiers) is kx


def test_kx_in_a_year_beyond_the_data_uses_the_newest_and_says_so() -> None:
    ev = run(therapy(service_date="2028-03-01", therapy_ytd_allowed=2500))
    assert "KX" in ev.charge_lines[0].modifiers
    assert any("KX threshold" in f.message for f in by_rule(ev, "rules.out-of-period"))


def test_kx_in_a_year_searched_and_not_found_is_not_checked() -> None:
    ev = run(therapy(service_date="2027-03-01", therapy_ytd_allowed=2500))
    assert "KX" not in ev.charge_lines[0].modifiers
    assert any("not checked for 2027" in f.message for f in by_rule(ev, "rules.out-of-period"))


def test_targeted_review_note_above_3000() -> None:
    (finding,) = by_rule(run(therapy(therapy_ytd_allowed=3100)), "kx.threshold")
    assert "targeted medical review" in finding.message


@pytest.mark.parametrize(
    ("day", "covered"),
    [
        ("2024-05-01", True),
        ("2025-11-15", True),
        ("2026-01-30", True),
        ("2026-01-31", True),
        ("2026-12-31", True),
        ("2019-06-01", False),
    ],
)
def test_medicare_pt_telehealth_windows(day: str, covered: bool) -> None:
    ev = run(therapy(service_date=day, mode="video", location="home"))
    assert ("telehealth.not-covered" not in rules_of(ev)) is covered


def test_medicare_telehealth_after_the_known_list_fails_closed_and_says_so() -> None:
    ev = run(therapy(service_date="2028-02-01", mode="video", location="home"))
    assert "telehealth.not-covered" in rules_of(ev)
    assert any("telehealth list" in f.message for f in by_rule(ev, "rules.out-of-period"))


def test_codes_that_did_not_exist_yet_are_not_evaluated() -> None:
    ev = run(therapy(code="98985", service_date="2025-06-01", rtm={"days_of_data": 10}))
    assert "rules.not-evaluated" in rules_of(ev)


# --- ICD-10-CM for dates outside the bundled FY2026 code set ---------------------------------------------


def test_fy2027_dates_outside_the_loaded_categories_use_fy2026_with_a_warning() -> None:
    ev = run(education(service_date="2026-11-27", diagnoses=["G89.29"]))
    (period,) = by_rule(ev, "rules.out-of-period")
    assert period.severity == "warn" and "FY2026" in period.message and "FY2027" in period.message


def test_fy2027_dates_in_the_loaded_categories_are_checked_against_fy2027() -> None:
    ev = run(education(service_date="2026-11-27", diagnoses=["M54.5"]))
    assert "rules.out-of-period" not in rules_of(ev)
    assert "dx.not-billable" in rules_of(ev)


def test_dates_inside_fy2026_raise_no_code_set_warning() -> None:
    assert "rules.out-of-period" not in rules_of(run(education(service_date="2026-09-30")))


# --- Charge lines ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "location", "pos"),
    [
        ("in-person", "office", "11"),
        ("in-person", "home", "12"),
        ("in-person", "outpatient-hospital", "22"),
        ("in-person", "other", "99"),
        ("video", "home", "10"),
        ("video", "office", "02"),
        ("audio-only", "home", "10"),
    ],
)
def test_place_of_service(mode: str, location: str, pos: str) -> None:
    ev = run(education(mode=mode, location=location))
    assert ev.charge_lines[0].place_of_service == pos


@pytest.mark.parametrize(
    ("payer", "mode", "modifiers"),
    [
        ("medicare", "video", ("GP", "95")),
        ("medicare", "audio-only", ("GP", "95", "FQ")),
        ("commercial", "video", ("GP", "95")),
        ("commercial", "audio-only", ("GP", "93")),
    ],
)
def test_telehealth_modifiers_by_payer(payer: str, mode: str, modifiers: tuple[str, ...]) -> None:
    ev = run(therapy(payer=payer, mode=mode, location="home"))
    assert ev.charge_lines[0].modifiers == modifiers


def test_education_by_video_for_medicaid_gets_95_and_pos_10() -> None:
    line = run(education(payer="medicaid", mode="video", location="home")).charge_lines[0]
    assert (line.place_of_service, line.modifiers) == ("10", ("95",))


def test_modifier_order_discipline_assistant_kx() -> None:
    ev = run(therapy(role="PTA", therapy_ytd_allowed=2600))
    assert ev.charge_lines[0].modifiers == ("GP", "CQ", "KX")
    ot = run(therapy(role="OT", assistant_minutes=5))  # 30 min: the OT's own 25 fill one whole unit
    assert [(c.units, c.modifiers) for c in ot.charge_lines] == [(1, ("GO",)), (1, ("GO", "CO"))]


def test_always_therapy_code_with_unknown_discipline_blocks() -> None:
    ev = run(therapy(role="MD"))
    assert [f.severity for f in by_rule(ev, "modifier.therapy")] == ["block"]


def test_diagnosis_pointers_keep_order_normalised_and_stop_at_four() -> None:
    ev = run(education(diagnoses=["e119", "I10", "J45.909", "E66.9", "N18.30"]))
    assert ev.charge_lines[0].diagnoses == ("E11.9", "I10", "J45.909", "E66.9")


def test_caregiver_training_adds_97551_lines() -> None:
    ev = run(therapy(code="97550", minutes=53, patient_present=False, consent_documented=True))
    assert [(line.code, line.units) for line in ev.charge_lines] == [("97550", 1), ("97551", 2)]
    assert all(line.modifiers == ("GP",) for line in ev.charge_lines)


def test_rtm_management_adds_98981() -> None:
    ev = run(therapy(code="98980", minutes=45, rtm={"interactive_communication": True}))
    assert [(line.code, line.units) for line in ev.charge_lines] == [("98980", 1), ("98981", 1)]


def test_group_size_suggests_the_right_code() -> None:
    (finding,) = by_rule(run(education(patients_in_group=6)), "group.size-mismatch")
    assert "98962" in finding.prompt
    (over,) = by_rule(run(education(code="98962", patients_in_group=9)), "group.size-mismatch")
    assert "No code" in over.prompt


def test_eval_level_suggests_the_supported_code() -> None:
    evaluation = {
        "personal_factors": 1,
        "body_systems": 4,
        "presentation": "unstable",
        "decision_complexity": "high",
    }
    (finding,) = by_rule(run(therapy(code="97163", evaluation=evaluation)), "eval.level-unsupported")
    assert "97162" in finding.prompt


def test_rtm_days_suggest_the_matching_supply_code() -> None:
    (finding,) = by_rule(run(therapy(code="98977", rtm={"days_of_data": 10})), "rtm.days")
    assert "98985" in finding.prompt


def test_order_rules() -> None:
    late = replace(ORDER, id="o2", authored_on=date(2026, 3, 3))
    by_rn = replace(ORDER, id="o3", requester_role="RN")
    revoked = replace(ORDER, id="o4", status="revoked")
    same_day = replace(ORDER, id="o5", status="completed", authored_on=ON, requester_role="DO")
    for orders, missing in (((late,), True), ((by_rn,), True), ((revoked,), True), ((same_day,), False)):
        assert ("order.missing" in rules_of(run(education(context={"orders": orders})))) is missing


# --- Duplicates ------------------------------------------------------------------------------------------


def test_our_own_charge_is_a_retry_not_a_duplicate() -> None:
    own = ExistingCharge("ch9", "98960", ON, "billable", ("urn:smart-edu|abc",))
    ev = run(education(context={"existing_charges": (own,), "own_identifiers": ("urn:smart-edu|abc",)}))
    (finding,) = by_rule(ev, "duplicate.charge")
    assert finding.severity == "info" and "ChargeItem/ch9" in finding.message and ev.billable


def test_voided_charges_are_not_duplicates() -> None:
    void = ExistingCharge("ch2", "98960", ON, "entered-in-error", ())
    assert "duplicate.charge" not in rules_of(run(education(context={"existing_charges": (void,)})))


# --- Fail closed, severities overridable -----------------------------------------------------------------


def test_unknown_code_fails_closed() -> None:
    ev = run(education(code="97799"))
    assert [(f.rule, f.severity) for f in ev.findings] == [("rules.not-evaluated", "block")]
    assert not ev.billable and ev.charge_lines == ()


def test_payer_policy_overrides_a_severity(tmp_path: Path) -> None:
    (tmp_path / "strict.toml").write_text(
        '[[policy]]\npayer_class = "commercial"\nseverity = { "dx.not-supporting" = "block" }\n'
        "effective_from = 2026-01-01\neffective_to = 2026-12-31\n"
        'source = "plan policy (local decision)"\ndecision = true\n'
    )
    ev = run(education(diagnoses=["S93.401A"]), load_rules([tmp_path]))
    assert [f.severity for f in by_rule(ev, "dx.not-supporting")] == ["block"] and not ev.billable


def test_evaluation_json_shape() -> None:
    data = run(education()).to_dict()
    assert set(data) == {"billable", "charge_lines", "findings", "estimate", "rules_version"}
    assert data["rules_version"] == "2026.1"
    assert data["charge_lines"][0] == {
        "code": "98960",
        "units": 1,
        "modifiers": [],
        "place_of_service": "11",
        "diagnoses": ["E11.9"],
    }


def test_findings_are_sorted_block_first() -> None:
    ev = run(education(payer="unknown", curriculum=None))
    order = [f.severity for f in ev.findings]
    assert order == sorted(order, key=["block", "warn", "info"].index)


def test_service_date_defaults_to_the_encounter() -> None:
    record = parse_service_record({k: v for k, v in EDUCATION.items() if k != "service_date"})
    context = ClinicalContext(
        payer=Payer("commercial"),
        provider=Provider("RN"),
        orders=(ORDER,),
        encounter=EncounterInfo(start="2026-03-02T10:00:00Z"),
    )
    ev = evaluate(record, context, as_of=date(2026, 11, 27))
    assert "date.assumed" not in rules_of(ev) and "rules.out-of-period" not in rules_of(ev)


def test_rtm_management_below_20_minutes_points_to_98979() -> None:
    (finding,) = by_rule(
        run(therapy(code="98980", minutes=15, rtm={"interactive_communication": True})), "time.below-minimum"
    )
    assert "98979" in finding.prompt
    (none,) = by_rule(
        run(therapy(code="98980", minutes=8, rtm={"interactive_communication": True})), "time.below-minimum"
    )
    assert "98979" not in none.prompt


def test_a_policy_cannot_make_the_engine_fail_open(tmp_path: Path) -> None:
    (tmp_path / "open.toml").write_text(
        '[[policy]]\npayer_class = "commercial"\nseverity = { "rules.not-evaluated" = "info" }\n'
        'effective_from = 2026-01-01\neffective_to = 2026-12-31\nsource = "x"\n'
    )
    with pytest.raises(RuleDataError, match="fails closed"):
        load_rules([tmp_path])


def test_cms_units_going_to_the_longer_service_are_explained() -> None:
    ev = run(therapy(minutes=5, other_timed_minutes={"97112": 10}))
    (finding,) = by_rule(ev, "time.below-minimum")
    assert "go to the timed services with more minutes" in finding.message


def test_eval_level_suggests_a_higher_supported_code_in_words() -> None:
    full = {
        "personal_factors": 3,
        "body_systems": 4,
        "presentation": "unstable",
        "decision_complexity": "high",
    }
    ev = run(therapy(code="97161", evaluation=full))
    (finding,) = by_rule(ev, "eval.level-higher")
    assert "high complexity (97163)" in finding.message and "97163" in finding.prompt
    assert ev.billable and not by_rule(ev, "eval.level-unsupported")


def test_missing_evaluation_components_are_named_in_words() -> None:
    (finding,) = by_rule(
        run(therapy(code="97162", evaluation={"presentation": "stable"})), "eval.components-missing"
    )
    assert (
        "personal factors and comorbidities, body systems examined, clinical decision making"
        in finding.message
    )
    assert "_" not in finding.message


def test_no_plan_of_care_warning_on_an_initial_evaluation() -> None:
    assert not by_rule(run(therapy(code="97161", plan_of_care_certified=False)), "poc.uncertified")
    assert by_rule(run(therapy(code="97164", plan_of_care_certified=False)), "poc.uncertified")
