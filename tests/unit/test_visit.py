"""A visit (DESIGN.md §4): several services, one evaluation; billing-rules.md §7's CMS examples as visits."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from billing_rules import (
    BadInput,
    VisitEvaluation,
    VisitRecord,
    evaluate,
    evaluate_visit,
    parse_record,
    parse_service_record,
    parse_visit_record,
)
from billing_rules.model import ClinicalContext, ExistingCharge, Order, Payer, Provider, ServiceRecord
from billing_rules.visit import timed_minutes

ON = date(2026, 3, 2)
PT_ORDER = Order(
    "o1", text="PT eval and treat", status="active", intent="order", authored_on=ON, requester_role="MD"
)
VISIT = {
    "service_date": "2026-03-02",
    "diagnoses": ["M17.11"],
    "plan_of_care_certified": True,
    "therapy_ytd_allowed": 500,
}


def context(payer: str = "medicare", role: str = "PT", **kw: Any) -> ClinicalContext:
    return ClinicalContext(payer=Payer(payer), provider=Provider(role), orders=(PT_ORDER,), **kw)  # type: ignore[arg-type]


def visit(*services: dict[str, Any], **shared: Any) -> VisitRecord:
    return parse_visit_record({**VISIT, **shared, "services": list(services)})


def units(ev: VisitEvaluation) -> dict[str, int]:
    return {line.code: line.units for line in ev.charge_lines}


def run(*services: dict[str, Any], payer: str = "medicare", **shared: Any) -> VisitEvaluation:
    return evaluate_visit(visit(*services, **shared), context(payer), as_of=ON)


# ---- the CMS examples (billing-rules.md §7.2) ----------------------------------------------------


def test_cms_24_min_97112_and_23_min_97110_bill_97112_x2_and_97110_x1() -> None:
    ev = run({"code": "97112", "minutes": 24}, {"code": "97110", "minutes": 23})
    assert units(ev) == {"97112": 2, "97110": 1}
    assert ev.billable, [(f.rule, f.message) for f in ev.findings]


def test_cms_20_and_20_minutes_bill_three_units_never_three_of_one() -> None:
    ev = run({"code": "97112", "minutes": 20}, {"code": "97110", "minutes": 20})
    assert sorted(units(ev).values()) == [1, 2]


def test_cms_33_min_97110_and_7_min_97140_bill_97110_x2_and_97140_x1() -> None:
    ev = run({"code": "97110", "minutes": 33}, {"code": "97140", "minutes": 7})
    assert units(ev) == {"97110": 2, "97140": 1}
    assert ev.billable


def test_cms_18_13_10_minutes_bill_one_unit_each() -> None:
    ev = run(
        {"code": "97110", "minutes": 18}, {"code": "97140", "minutes": 13}, {"code": "97112", "minutes": 10}
    )
    assert units(ev) == {"97110": 1, "97140": 1, "97112": 1}


def test_ten_minutes_of_three_codes_pool_to_two_units_under_medicare_three_per_code_commercially() -> None:
    three = (
        {"code": "97110", "minutes": 10},
        {"code": "97140", "minutes": 10},
        {"code": "97112", "minutes": 10},
    )
    medicare = run(*three)
    assert sum(units(medicare).values()) == 2
    assert medicare.billable, [(f.rule, f.message) for f in medicare.findings if f.severity == "block"]
    commercial = run(*three, payer="commercial")
    assert units(commercial) == {"97110": 1, "97140": 1, "97112": 1}


def test_the_third_service_of_a_pooled_visit_is_counted_not_blocked() -> None:
    medicare = run(
        {"code": "97110", "minutes": 10}, {"code": "97140", "minutes": 10}, {"code": "97112", "minutes": 10}
    )
    unbilled = [
        code for code, ev in zip(medicare.codes, medicare.services, strict=True) if not ev.charge_lines
    ]
    assert len(unbilled) == 1
    (note,) = [f for f in medicare.findings if f.rule == "time.below-minimum"]
    assert note.severity == "info" and note.code == unbilled[0]
    assert "count toward this visit's 30 timed minutes" in note.message


def test_a_single_short_service_alone_is_still_blocked() -> None:
    ev = run({"code": "97110", "minutes": 5})
    assert not ev.billable
    assert [f.rule for f in ev.findings if f.severity == "block"] == ["time.below-minimum"]


def test_untimed_evaluation_minutes_never_enter_the_timed_pool() -> None:
    eval_ = {
        "code": "97163",
        "minutes": 45,
        "evaluation": {
            "personal_factors": 3,
            "body_systems": 4,
            "presentation": "unstable",
            "decision_complexity": "high",
        },
    }
    ev = run(eval_, {"code": "97110", "minutes": 7})
    assert units(ev) == {"97163": 1}  # 7 timed minutes alone: no unit, whatever the evaluation's 45 minutes


def test_the_visit_equals_each_code_evaluated_with_the_others_as_same_day_minutes() -> None:
    """The visit reuses the single-service engine: the same lines as the old other_timed_minutes route."""
    ev = run({"code": "97112", "minutes": 24}, {"code": "97110", "minutes": 23})
    single = evaluate(
        parse_service_record({**VISIT, "code": "97112", "minutes": 24, "other_timed_minutes": {"97110": 23}}),
        context(),
        as_of=ON,
    )
    assert ev.services[0].charge_lines == single.charge_lines


# ---- the visit's shape ---------------------------------------------------------------------------


def test_visit_level_fields_apply_to_each_service_that_does_not_set_its_own() -> None:
    v = visit(
        {"code": "97110", "minutes": 30},
        {"code": "97112", "minutes": 20, "provider_role": "PTA"},
        provider_role="PT",
    )
    assert [s.provider_role for s in v.services] == ["PT", "PTA"]
    assert all(s.diagnoses == ("M17.11",) and s.service_date == ON for s in v.services)


def test_a_service_null_means_not_given_so_the_visit_value_applies() -> None:
    v = visit({"code": "97110", "minutes": 30, "diagnoses": None})
    assert v.services[0].diagnoses == ("M17.11",)


def test_assistant_line_gets_cq_and_the_therapist_line_does_not() -> None:
    ev = run(
        {"code": "97110", "minutes": 33},
        {"code": "97112", "minutes": 24, "provider_role": "PTA"},
        {"code": "97140", "minutes": 7},
    )
    mods = {line.code: line.modifiers for line in ev.charge_lines}
    assert "CQ" in mods["97112"] and "GP" in mods["97112"]
    assert "CQ" not in mods["97110"]
    # 64 minutes = 4 units: 97110's two full blocks, one for 97112, and the last to 97112's 9 left
    # minutes over 97140's 7: 97140 is counted in the total and carries no line (billing-rules.md §7.2).
    assert units(ev) == {"97110": 2, "97112": 2}
    assert ev.billable


def test_charge_lines_follow_the_services_order_and_findings_name_their_service() -> None:
    ev = run({"code": "97140", "minutes": 20}, {"code": "97110", "minutes": 25})
    assert [line.code for line in ev.charge_lines] == ["97140", "97110"]
    assert len(ev.services) == 2 and ev.codes == ("97140", "97110")
    assert all(f.code in (None, "97140", "97110") for f in ev.findings)


def test_shared_notices_are_said_once_for_the_visit() -> None:
    ev = run(
        {"code": "97110", "minutes": 30},
        {"code": "97112", "minutes": 15},
        {"code": "97140", "minutes": 8},
        plan_of_care_certified=False,
    )
    poc = [f for f in ev.findings if f.rule == "poc.uncertified"]
    assert len(poc) == 1 and poc[0].code is None
    assert "97110, 97112 and 97140" in poc[0].message
    gp = [f for f in ev.findings if f.rule == "modifier.therapy"]
    assert len(gp) == 1 and gp[0].code is None and "97110, 97112 and 97140" in gp[0].message
    # No CMS edit table loaded at all: `smart-edu rules status` says so, not every evaluation (issue 12)
    assert not [f for f in ev.findings if f.rule == "ncci.not-checked"]


def test_a_finding_of_one_service_keeps_its_code() -> None:
    ev = run({"code": "97110", "minutes": 30}, {"code": "97112"})
    (missing,) = [f for f in ev.findings if f.rule == "time.missing"]
    assert missing.code == "97112"
    assert not ev.billable


def test_no_plan_of_care_warning_on_the_visit_of_an_initial_evaluation() -> None:
    full = {
        "personal_factors": 1,
        "body_systems": 3,
        "presentation": "evolving",
        "decision_complexity": "moderate",
    }
    ev = run(
        {"code": "97162", "evaluation": full}, {"code": "97110", "minutes": 15}, plan_of_care_certified=False
    )
    assert "poc.uncertified" not in {f.rule for f in ev.findings}
    later = run({"code": "97164"}, {"code": "97110", "minutes": 15}, plan_of_care_certified=False)
    assert "poc.uncertified" in {f.rule for f in later.findings}


def test_billable_only_when_every_service_is() -> None:
    ev = run(
        {"code": "97110", "minutes": 30}, {"code": "97161"}
    )  # the evaluation lacks its components: warn only
    assert ev.billable
    blocked = run({"code": "97110", "minutes": 30}, {"code": "98999", "minutes": 10})
    assert not blocked.billable
    assert blocked.services[0].billable and not blocked.services[1].billable


def test_estimate_is_the_visit_total() -> None:
    ev = run({"code": "97112", "minutes": 24}, {"code": "97110", "minutes": 23})
    parts = [s.estimate for s in ev.services]
    if ev.estimate is None:
        assert any(p is None for p in parts)
    else:
        assert all(p is not None for p in parts)
        assert ev.estimate.high == pytest.approx(sum(p.high for p in parts if p))
        assert ev.estimate.low == pytest.approx(sum(p.low for p in parts if p))


def test_our_own_charges_of_the_visit_are_a_retry_per_code() -> None:
    mine = (
        ExistingCharge("c1", "97110", ON, "billable", ("urn:visit|a",)),
        ExistingCharge("c2", "97112", ON, "billable", ("urn:visit|b",)),
    )
    ctx = context(existing_charges=mine, own_identifiers=("urn:visit|a", "urn:visit|b"))
    ev = evaluate_visit(
        visit({"code": "97110", "minutes": 24}, {"code": "97112", "minutes": 23}), ctx, as_of=ON
    )
    retries = [f for f in ev.findings if f.rule == "duplicate.charge"]
    assert {f.code for f in retries} == {"97110", "97112"} and all(f.severity == "info" for f in retries)


def test_to_dict_has_the_design_shape() -> None:
    ev = run({"code": "97112", "minutes": 24}, {"code": "97110", "minutes": 23})
    data = ev.to_dict()
    assert set(data) == {"billable", "charge_lines", "findings", "estimate", "rules_version", "services"}
    assert all("code" in f for f in data["findings"])
    assert [s["code"] for s in data["services"]] == ["97112", "97110"]
    assert set(data["services"][0]) == {
        "code",
        "billable",
        "charge_lines",
        "findings",
        "estimate",
        "rules_version",
    }


# ---- parse_record and bad input ------------------------------------------------------------------


def test_parse_record_tells_a_visit_from_a_service() -> None:
    assert isinstance(parse_record({"code": "97110", "minutes": 20}), ServiceRecord)
    assert isinstance(parse_record({"services": [{"code": "97110", "minutes": 20}]}), VisitRecord)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"services": []}, "services"),
        ({"services": "97110"}, "services"),
        ({"diagnoses": ["M17.11"]}, "code"),
        ({"services": [{"code": "97110"}], "other_timed_minutes": {"97140": 7}}, "other_timed_minutes"),
        (
            {"services": [{"code": "97110", "other_timed_minutes": {"97140": 7}}]},
            "services[0].other_timed_minutes",
        ),
        ({"services": [{"code": "97110"}, {"code": "97112", "minutes": "20"}]}, "services[1].minutes"),
        ({"services": [{"code": "97110"}, {"minutes": 20}]}, "services[1].code"),
        ({"services": [{"code": "97110"}, 97112]}, "services[1]"),
        ({"services": [{"code": "97110", "minuts": 3}]}, "services[0].minuts"),
        ({"services": [{"code": "97110"}], "minutes": -1}, "minutes"),
        ({"services": [{"code": "97110"}], "servise_date": "2026-03-02"}, "servise_date"),
        ({"services": [{"code": "97110"}], "code": "97110"}, "code"),
        ({"services": [{"code": "97110"}, {"code": "97110"}]}, "services[1].code"),
        (
            {
                "services": [
                    {"code": "97110", "service_date": "2026-03-02"},
                    {"code": "97112", "service_date": "2026-03-03"},
                ]
            },
            "services[1].service_date",
        ),
        (
            {"services": [{"code": "97110", "evaluation": {"body_systems": "four"}}]},
            "services[0].evaluation.body_systems",
        ),
        (
            {"services": [{"code": "97110", "assistant_minutes": 20}], "minutes": 10},
            "services[0].assistant_minutes",
        ),
    ],
)
def test_bad_visit_input_names_the_field_path(data: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_record(data)
    assert caught.value.field == field, str(caught.value)


def test_an_unknown_visit_field_suggests_the_intended_name() -> None:
    with pytest.raises(BadInput, match="did you mean 'service_date'"):
        parse_visit_record({"services": [{"code": "97110"}], "servise_date": "2026-03-02"})


def test_a_visit_record_needs_a_service() -> None:
    with pytest.raises(ValueError):
        VisitRecord(services=())


def test_a_short_code_under_a_per_code_payer_is_recorded_without_a_line_when_others_bill() -> None:
    ev = run({"code": "97110", "minutes": 30}, {"code": "97140", "minutes": 5}, payer="commercial")
    assert units(ev) == {"97110": 2} and ev.billable
    (note,) = [f for f in ev.findings if f.rule == "time.below-minimum"]
    assert note.severity == "info" and note.code == "97140" and "per-code" in note.message


def test_timed_minutes_leave_out_untimed_services() -> None:
    v = visit(
        {"code": "97163", "minutes": 45}, {"code": "97110", "minutes": 20}, {"code": "98960", "minutes": 30}
    )
    assert timed_minutes(v) == {"97110": 20, "98960": 30}


def test_the_visits_lines_together_may_cross_the_kx_threshold_when_no_single_one_does() -> None:
    # 2 units each at the CY 2026 national amounts: 97110 2 x $29.06 = $58.12, 97112 2 x $32.73 = $65.46
    two = ({"code": "97110", "minutes": 30}, {"code": "97112", "minutes": 30})
    ev = run(*two, therapy_ytd_allowed=2400)  # alone: 2,400 + 65.46 < 2,480; together: + 123.58 >= 2,480
    (kx,) = [f for f in ev.findings if f.rule == "kx.threshold"]
    assert kx.code is None and kx.severity == "warn" and "this visit's lines together" in kx.message
    assert all("KX" not in line.modifiers for line in ev.charge_lines)
    assert not [f for f in run(*two, therapy_ytd_allowed=2350).findings if f.rule == "kx.threshold"]
    each = [f for f in run(*two, therapy_ytd_allowed=2425).findings if f.rule == "kx.threshold"]
    # each alone crosses: each line says it with its own amount, and no "together" finding is added
    assert {f.code for f in each} == {"97110", "97112"} and all("this service" in f.message for f in each)
    commercial = run(*two, payer="commercial", therapy_ytd_allowed=2400)
    assert not [f for f in commercial.findings if f.rule == "kx.threshold"]
