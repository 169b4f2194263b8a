"""Issue 12: a PT/OT clinic's and a diabetes program's code set, no silent units, RTM, MA, CQ per unit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from billing_rules import catalogue, default_rules
from billing_rules.model import ClinicalContext, ExistingCharge, Payer, Provider
from billing_rules.visit import evaluate_visit
from billing_rules.visit_record import parse_visit_record
from tests.unit.test_rules_registry import ON, dsmt, education, rules_of, run, therapy

ISSUE_CODES = [
    "G0108",
    "G0109",
    "97802",
    "97803",
    "97804",
    "97150",
    "97113",
    "97116",
    "97140",
    "97032",
    "97033",
    "97034",
    "97035",
    "97036",
    "97542",
    "97750",
    "97760",
    "97761",
    "97763",
    "97010",
    "97012",
    "97014",
    "G0283",
    "97016",
    "97018",
    "97022",
    "97165",
    "97166",
    "97167",
    "97168",
    "97164",
]


def test_the_catalogue_holds_every_code_the_issue_names() -> None:
    assert set(ISSUE_CODES) <= {c.code for c in catalogue()}


def units(ev: Any) -> dict[str, int]:
    return {line.code: line.units for line in ev.charge_lines}


# --- No unit is ever added silently ----------------------------------------------------------------------


def test_unattended_estim_beside_timed_exercise_adds_no_unit() -> None:
    """The reviewer's case: G0283 3 min beside 97110 22 min pooled to 25 min = 2 units; it is 1."""
    ev = run(therapy(minutes=22, other_timed_minutes={"G0283": 3}))
    assert units(ev) == {"97110": 1}
    (note,) = [f for f in ev.findings if f.rule == "time.untimed-excluded"]
    assert note.severity == "info" and "G0283" in note.message


def test_an_unknown_code_in_the_days_minutes_blocks_and_is_named() -> None:
    ev = run(therapy(minutes=22, other_timed_minutes={"97799": 3}))
    (block,) = [f for f in ev.findings if f.rule == "time.unknown-code"]
    assert block.severity == "block" and "97799" in block.message and not ev.billable
    assert units(ev) == {"97110": 1}  # never pooled


def test_a_visit_with_g0283_and_exercise_pools_only_the_exercise() -> None:
    visit = parse_visit_record(
        {
            "service_date": "2026-03-02",
            "provider_role": "PT",
            "diagnoses": ["M17.11"],
            "plan_of_care_certified": True,
            "therapy_ytd_allowed": 500,
            "services": [{"code": "97110", "minutes": 22}, {"code": "G0283", "minutes": 3}],
        }
    )
    context = ClinicalContext(payer=Payer("medicare"), provider=Provider("PT"))
    ev = evaluate_visit(visit, context, as_of=ON)
    assert units(ev) == {"97110": 1, "G0283": 1}
    assert len([f for f in ev.findings if f.rule == "time.untimed-excluded"]) == 1


@pytest.mark.parametrize("code", ["97010", "97012", "97016", "97018", "97022", "G0283", "97150"])
def test_untimed_codes_bill_one_unit_whatever_the_minutes(code: str) -> None:
    extra = {"patients_in_group": 3} if code == "97150" else {}
    ev = run(therapy(payer="commercial", code=code, minutes=40, **extra))
    assert units(ev) == {code: 1}


@pytest.mark.parametrize(("minutes", "expected"), [(7, 0), (8, 1), (22, 1), (23, 2)])
def test_attended_modalities_are_timed_15(minutes: int, expected: int) -> None:
    ev = run(therapy(code="97035", minutes=minutes))
    assert units(ev).get("97035", 0) == expected


# --- Medicare specifics of modalities -------------------------------------------------------------------


def test_hot_cold_packs_are_bundled_under_medicare_with_no_abn() -> None:
    ev = run(therapy(code="97010", minutes=10))
    (finding,) = [f for f in ev.findings if f.rule == "payer.not-covered"]
    assert finding.severity == "block" and "bundled" in finding.prompt and "GY" not in finding.prompt
    assert "payer.not-covered" not in rules_of(run(therapy(payer="commercial", code="97010", minutes=10)))


def test_97014_under_medicare_names_g0283() -> None:
    ev = run(therapy(code="97014", minutes=15))
    (finding,) = [f for f in ev.findings if f.rule == "payer.not-covered"]
    assert "G0283" in finding.prompt
    assert run(therapy(code="G0283", minutes=15)).billable


@pytest.mark.parametrize(("size", "fits"), [(1, False), (2, True), (12, True)])
def test_group_therapy_needs_two_or_more_patients(size: int, fits: bool) -> None:
    ev = run(therapy(code="97150", minutes=30, patients_in_group=size))
    assert ("group.size-mismatch" not in rules_of(ev)) is fits


# --- OT evaluations -------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["97165", "97166", "97167", "97168"])
def test_ot_evaluations_are_the_ots_with_go(code: str) -> None:
    ev = run(therapy(code=code, role="OT", minutes=45))
    assert ev.billable and ev.charge_lines[0].modifiers == ("GO",) and units(ev) == {code: 1}
    assert "eval.components-missing" not in rules_of(ev)  # OT components are not inputs
    assert "provider.not-qualified" in rules_of(run(therapy(code=code, role="PT")))
    assert "provider.not-qualified" in rules_of(run(therapy(code=code, role="OTA")))


# --- DSMT and MNT ---------------------------------------------------------------------------------------


def test_dsmt_in_an_accredited_program_is_billable() -> None:
    ev = run(dsmt())
    assert ev.billable and units(ev) == {"G0108": 1}, ev.findings


def test_dsmt_not_accredited_blocks() -> None:
    ev = run(dsmt(accredited_program=False))
    assert [f.severity for f in ev.findings if f.rule == "benefit.not-accredited"] == ["block"]


def test_group_dsmt_with_one_patient_names_the_individual_code() -> None:
    ev = run(dsmt(code="G0109", patients_in_group=1))
    (finding,) = [f for f in ev.findings if f.rule == "group.size-mismatch"]
    assert "G0108" in finding.prompt


@pytest.mark.parametrize(("used", "minutes", "warned"), [(9.5, 30, False), (9.5, 31, True), (0, 60, False)])
def test_dsmt_hours_in_the_first_year(used: float, minutes: int, warned: bool) -> None:
    ev = run(dsmt(benefit_hours_used=used, minutes=minutes))
    assert ("benefit.hours" in rules_of(ev)) is warned


def test_dsmt_follow_up_years_allow_two_hours() -> None:
    assert "benefit.hours" in rules_of(
        run(dsmt(benefit_year="subsequent", benefit_hours_used=1.6, minutes=30))
    )


def test_dsmt_and_mnt_not_the_same_day_but_another_day_is_fine() -> None:
    same = ExistingCharge("c9", "97802", ON, "billable", ("urn:other|9",))
    assert "benefit.same-day" in rules_of(run(replace(dsmt(), context={"existing_charges": (same,)})))
    other_day = ExistingCharge("c9", "97802", None, "billable", ("urn:other|9",))
    assert "benefit.same-day" not in rules_of(
        run(replace(dsmt(), context={"existing_charges": (other_day,)}))
    )


def mnt(**kw: Any) -> Any:
    base = {"code": "97802", "payer": "medicare", "role": "RD", "curriculum": None, "topics": []}
    return education(**{**base, **kw, "accredited_program": None})


@pytest.mark.parametrize(("minutes", "expected"), [(7, 0), (8, 1), (22, 1), (23, 2), (38, 3)])
def test_mnt_units_are_its_own_not_pooled(minutes: int, expected: int) -> None:
    ev = run(mnt(minutes=minutes, other_timed_minutes={"97110": 10}))
    assert units(ev).get("97802", 0) == expected


def test_mnt_is_the_dietitians_and_covers_kidney_disease_not_asthma() -> None:
    assert "provider.not-qualified" in rules_of(run(mnt(role="RN")))
    assert "benefit.condition" not in rules_of(run(mnt(diagnoses=["N18.30"])))
    assert "benefit.condition" in rules_of(run(mnt(diagnoses=["J45.909"])))


# --- RTM set-up --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "days", "ok"),
    [("2026-03-02", 1, False), ("2026-03-02", 2, True), ("2025-06-02", 15, False), ("2025-06-02", 16, True)],
)
def test_rtm_setup_days_floor_by_year(day: str, days: int, ok: bool) -> None:
    ev = run(therapy(code="98975", service_date=day, rtm={"days_of_data": days, "rpm_same_month": False}))
    assert ("rtm.days" not in rules_of(ev)) is ok


def test_rtm_setup_once_per_episode_from_the_charges_read() -> None:
    earlier = ExistingCharge("c1", "98975", None, "billable", ("urn:other|1",))
    ev = run(
        replace(therapy(code="98975", rtm={"days_of_data": 5}), context={"existing_charges": (earlier,)})
    )
    (repeat,) = [f for f in ev.findings if f.rule == "rtm.setup-repeat"]
    assert "ChargeItem/c1" in repeat.message


# --- Medicare Advantage, CQ per unit, ties ----------------------------------------------------------


def test_medicare_advantage_asks_for_cq_and_a_prior_authorization() -> None:
    ev = run(therapy(payer="medicare-advantage", role="PTA", minutes=30))
    assert "CQ" in ev.charge_lines[0].modifiers
    assert "payer.authorization" in rules_of(ev)
    assert "payer.authorization" not in rules_of(run(therapy(payer="medicare-advantage", code="97161")))


@pytest.mark.parametrize(
    ("minutes", "helped", "lines"),
    [
        (45, 15, [(2, ("GP",)), (1, ("GP", "CQ"))]),  # the PT's 30 minutes fill two units
        (30, 30, [(2, ("GP", "CQ"))]),  # all the assistant's
        (23, 1, [(2, ("GP",))]),  # de minimis
        (23, 2, [(1, ("GP",)), (1, ("GP", "CQ"))]),  # 2 of the last 15: above 10%
    ],
)
def test_cq_goes_on_the_units_the_assistant_furnished(
    minutes: int, helped: int, lines: list[tuple[int, tuple[str, ...]]]
) -> None:
    ev = run(therapy(minutes=minutes, assistant_minutes=helped))
    assert [(c.units, c.modifiers) for c in ev.charge_lines] == lines


def test_a_tie_says_the_clinician_may_choose() -> None:
    ev = run(therapy(minutes=20, other_timed_minutes={"97112": 20}))
    (tie,) = [f for f in ev.findings if f.rule == "time.tie"]
    assert tie.severity == "info" and "97110" in tie.message and "may" in tie.prompt
    # CY 2026 Medicare figures loaded: 97112 ($32.73) outranks 97110 ($29.06), the tied unit goes to 97112
    assert "went to 97112 (the higher-valued code)" in tie.message
    assert units(ev) == {"97110": 1}
    # more minutes win without a tie
    assert "time.tie" not in rules_of(run(therapy(minutes=20, other_timed_minutes={"97112": 21})))


def test_plan_changed_needs_recertification() -> None:
    assert "poc.recert" in rules_of(run(therapy(plan_of_care_changed=True)))
    assert "poc.recert" not in rules_of(run(therapy(plan_of_care_changed=False)))
    assert "poc.recert" not in rules_of(run(therapy(payer="commercial", plan_of_care_start="2025-01-02")))


def test_kx_prompt_names_the_abn_and_ga_gz() -> None:
    (kx,) = [f for f in run(therapy(therapy_ytd_allowed=2600)).findings if f.rule == "kx.threshold"]
    assert "advance beneficiary notice" in kx.prompt and "GA" in kx.prompt and "GZ" in kx.prompt


def test_every_route_and_benefit_row_loads() -> None:
    rules = default_rules()
    assert {r["name"] for r in rules.entries("route")} >= {"therapy", "caregiver", "DSMT", "MNT", "G0283"}
    assert len(rules.entries("benefit_hours")) == 4


# --- Plan of care from the EHR's CarePlan -------------------------------------------------------------------


def careplan(start: str, end: str | None = None, status: str = "active") -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {
        "resourceType": "CarePlan",
        "id": "cp1",
        "status": status,
        "intent": "plan",
        "subject": {"reference": "Patient/p"},
        "period": period,
    }


def plan_rules(*resources: dict[str, Any], **record: Any) -> set[str]:
    from billing_rules import evaluate, parse_service_record
    from fhir_mappings.read import context_from_resources

    context = context_from_resources([{"resourceType": "Patient", "id": "p"}, *resources], patient_id="p")
    context = replace(context, payer=Payer("medicare"), provider=Provider("PT"))
    base = {"code": "97110", "minutes": 30, "service_date": "2026-03-02", "diagnoses": ["M17.11"]}
    base |= {"plan_of_care_certified": True, "therapy_ytd_allowed": 100}
    return {f.rule for f in evaluate(parse_service_record({**base, **record}), context).findings}


@pytest.mark.parametrize(("start", "fires"), [("2025-12-02", True), ("2025-12-03", False)])
def test_a_careplan_started_90_days_before_needs_recertification(start: str, fires: bool) -> None:
    assert ("poc.recert" in plan_rules(careplan(start))) is fires


def test_a_careplan_that_ended_before_the_visit_needs_recertification() -> None:
    assert "poc.recert" in plan_rules(careplan("2026-01-10", "2026-02-28"))
    assert "poc.recert" not in plan_rules(careplan("2026-01-10", "2026-03-31"))


def test_the_service_records_plan_start_wins_over_the_careplan() -> None:
    assert "poc.recert" not in plan_rules(careplan("2025-10-01"), plan_of_care_start="2026-02-01")


def test_a_revoked_or_future_careplan_is_not_the_plan_in_force() -> None:
    assert "poc.recert" not in plan_rules(careplan("2025-10-01", status="revoked"))
    assert "poc.recert" not in plan_rules(careplan("2026-04-01"))
