"""parse_service_record: rules-contract §1 input, with BadInput naming the offending field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from billing_rules import BadInput, parse_service_record
from billing_rules.model import EvaluationComponents, RtmData

FULL: dict[str, Any] = {
    "code": "98960",
    "service_date": "2026-03-02",
    "minutes": 35,
    "mode": "video",
    "location": "home",
    "patients_in_group": 1,
    "patient_present": True,
    "caregiver_present": True,
    "curriculum": " ADA DSMES ",
    "topics": ["glucose", ""],
    "adaptations": "large print",
    "response": "teach-back correct",
    "diagnoses": ["E11.9", "I10"],
    "other_timed_minutes": {"97110": 10},
    "assistant_minutes": 0,
    "evaluation": {
        "personal_factors": 1,
        "body_systems": 3,
        "presentation": "evolving",
        "decision_complexity": "moderate",
    },
    "rtm": {
        "days_of_data": 20,
        "management_minutes": 25,
        "interactive_communication": True,
        "rpm_same_month": False,
    },
    "consent_documented": True,
    "plan_of_care_certified": False,
    "therapy_ytd_allowed": 1234.5,
    "payer_class": "medicaid",
    "provider_role": "RN",
}


def test_every_field_parses() -> None:
    record = parse_service_record(FULL)
    assert record.service_date == date(2026, 3, 2)
    assert record.curriculum == "ADA DSMES" and record.topics == ("glucose",)
    assert record.diagnoses == ("E11.9", "I10")
    assert record.evaluation == EvaluationComponents(1, 3, "evolving", "moderate")
    assert record.rtm == RtmData(20, 25, True, False)
    assert record.therapy_ytd_allowed == 1234.5 and record.payer_class == "medicaid"


def test_nulls_and_absent_optionals_mean_not_given() -> None:
    record = parse_service_record({"code": "97110", "minutes": None, "curriculum": None, "rtm": None})
    assert record.minutes is None and record.curriculum is None and record.rtm is None
    assert record.mode == "in-person" and record.patient_present is True


def test_code_is_upper_cased_and_hcpcs_accepted() -> None:
    assert parse_service_record({"code": "g0108"}).code == "G0108"
    assert parse_service_record({"code": "0591T"}).code == "0591T"


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"colour": "red"}, "colour", "unknown field"),
        ({"code": None}, "code", "required"),
        ({"code": ""}, "code", "empty"),
        ({"code": "   "}, "code", "empty"),
        ({"code": "9896"}, "code", "not a CPT or HCPCS"),
        ({"code": "98960-GP"}, "code", "not a CPT or HCPCS"),
        ({"code": 98960}, "code", "text"),
        ({"minutes": -5}, "minutes", "below 0"),
        ({"minutes": 481}, "minutes", "not credible"),
        ({"minutes": "30"}, "minutes", "whole number"),
        ({"minutes": 30.5}, "minutes", "whole number"),
        ({"minutes": True}, "minutes", "whole number"),
        ({"service_date": "2026-02-30"}, "service_date", "not a date"),
        ({"service_date": 20260302}, "service_date", "date"),
        ({"mode": "fax"}, "mode", "one of"),
        ({"location": "car"}, "location", "one of"),
        ({"patients_in_group": 0}, "patients_in_group", "below 1"),
        ({"patient_present": "yes"}, "patient_present", "true or false"),
        ({"topics": "glucose"}, "topics", "list"),
        ({"topics": ["a", 3]}, "topics[1]", "text"),
        ({"diagnoses": "E11.9"}, "diagnoses", "list"),
        ({"other_timed_minutes": {"97110": -1}}, "other_timed_minutes.97110", "below 0"),
        ({"other_timed_minutes": {"x": 10}}, "other_timed_minutes.x", "not a CPT"),
        ({"other_timed_minutes": [10]}, "other_timed_minutes", "map codes"),
        ({"evaluation": {"presentation": "wobbly"}}, "evaluation.presentation", "one of"),
        ({"evaluation": {"colour": 1}}, "evaluation.colour", "unknown field"),
        ({"evaluation": "high"}, "evaluation", "object"),
        ({"rtm": {"days_of_data": 40}}, "rtm.days_of_data", "not credible"),
        ({"rtm": {"interactive_communication": 1}}, "rtm.interactive_communication", "true or false"),
        ({"therapy_ytd_allowed": -1}, "therapy_ytd_allowed", "non-negative"),
        ({"payer_class": "medicare-ffs"}, "payer_class", "one of"),
        ({"provider_role": "nurse"}, "provider_role", "one of"),
    ],
)
def test_bad_input_names_the_field(patch: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_service_record({**FULL, **patch})
    assert err.value.field == field and words in err.value.message


def test_not_an_object() -> None:
    with pytest.raises(BadInput, match="JSON object"):
        parse_service_record(["98960"])  # type: ignore[arg-type]
