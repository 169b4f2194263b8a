"""The page's pure parts: form values → ServiceRecord input, focus targets, the curricula data, the EHR style
filter. No app, no HTTP."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from smart_app import create_app
from smart_app.point_of_care import curricula, style
from smart_app.point_of_care.curricula import CurriculaError, parse_curricula
from smart_app.point_of_care.form import fields_from, focus_id, minutes_from_times, record_input

ADCES = "ADCES7 Self-Care Behaviors (diabetes self-management education)"
NEEDS_98960 = {"minutes", "mode", "location", "patients_in_group", "patient_present", "curriculum", "topics"}


def test_form_becomes_service_record_input_in_pointer_order() -> None:
    form = MultiDict(
        [("code", "98960"), ("minutes", "25"), ("dx", "E11.9"), ("dx", "E78.5"), ("dx_extra", "i10, E11.9"),
         ("curriculum", ADCES), ("topic", "Healthy eating"), ("topic", "Not in this curriculum"),
         ("topics_other", "Foot care\nSick-day rules"), ("patient_present", "yes"), ("csrf_token", "x")]
    )  # fmt: skip
    fields = fields_from(form)
    assert "csrf_token" not in fields and fields["dx"] == ["E11.9", "E78.5"]
    data, errors = record_input(fields, NEEDS_98960, default_date=date(2026, 3, 2))
    assert errors == []
    assert data["diagnoses"] == ["E11.9", "E78.5", "I10"]
    assert data["topics"] == ["Healthy eating", "Foot care", "Sick-day rules"]
    assert data["curriculum"] == ADCES and data["minutes"] == 25 and data["patient_present"] is True
    assert data["service_date"] == "2026-03-02"


def test_only_the_fields_the_code_needs_are_kept() -> None:
    fields = {"code": "98960", "minutes": "20", "eval_presentation": "stable", "rtm_days_of_data": "20"}
    data, _ = record_input(fields, NEEDS_98960, default_date=None)
    assert "evaluation" not in data and "rtm" not in data
    data, _ = record_input(fields, {"evaluation", "rtm"}, default_date=None)
    assert data["evaluation"] == {"presentation": "stable"} and data["rtm"] == {"days_of_data": 20}


def test_typed_curriculum_and_unstated_answers() -> None:
    fields = {"code": "98960", "curriculum": "__other__", "curriculum_other": "Clinic heart-failure class v3"}
    data, _ = record_input(fields, NEEDS_98960, default_date=None)
    assert data["curriculum"] == "Clinic heart-failure class v3"
    assert "patient_present" not in data  # "not stated" stays unknown, never a guessed default


@pytest.mark.parametrize(
    ("fields", "control"),
    [
        ({"minutes": "twenty"}, "minutes"),
        ({"start_time": "09:40", "end_time": "09:10"}, "end_time"),
        ({"minutes": "20", "start_time": "09:00", "end_time": "09:35"}, "minutes"),
        ({"service_date": "2026-02-30"}, "service_date"),
        ({"therapy_ytd_allowed": "-5"}, "therapy_ytd_allowed"),
        ({"other_timed_minutes": "97110 for ten"}, "other_timed_minutes"),
    ],
)
def test_bad_values_become_errors_on_their_control(fields: dict[str, str], control: str) -> None:
    needed = NEEDS_98960 | {"therapy_ytd_allowed", "other_timed_minutes"}
    _, errors = record_input({"code": "97110"} | fields, needed, default_date=None)
    assert [e.field for e in errors] == [control]


def test_times_give_minutes() -> None:
    assert minutes_from_times("09:05", "09:40") == 35
    assert minutes_from_times("9:05", "9:04") is None
    assert minutes_from_times("25:00", "26:00") is None


@pytest.mark.parametrize(
    ("field", "target"),
    [
        ("minutes", "f-minutes"),
        ("curriculum, topics", "f-curriculum"),
        ("rtm.days_of_data", "f-rtm_days_of_data"),
        ("evaluation", "f-eval_personal_factors"),
        ("payer", "f-payer_class"),
        ("orders", "f-code"),
        (None, "f-code"),
    ],
)
def test_findings_point_at_a_control(field: str | None, target: str) -> None:
    assert focus_id(field) == target


def test_packaged_curricula_have_the_documented_shape() -> None:
    items = curricula.curricula()
    assert len(items) >= 5 and len({c.id for c in items}) == len(items)
    adces = curricula.by_name(ADCES)
    assert adces is not None and "Healthy eating" in adces.topics and adces.offered_for("98960")


def test_a_deployment_replaces_the_curricula(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "curricula.toml"
    own.write_text(
        'version = "local-1"\n[[curriculum]]\nid = "ours"\nname = "Our asthma class"\n'
        'topics = ["Inhaler technique"]\ncodes = []\nsource = "Clinic education committee"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SMART_EDU_CURRICULA", str(own))
    create_app({"SMART_EDU_DATABASE_URL": "sqlite://"})
    try:
        assert [c.name for c in curricula.curricula()] == ["Our asthma class"]
    finally:
        curricula.use_deployment_curricula(None)
    assert "Our asthma class" not in [c.name for c in curricula.curricula()]


@pytest.mark.parametrize(
    "doc",
    [
        {"curriculum": [{"id": "a", "name": "A", "source": "s"}]},  # no version
        {"version": "1", "curriculum": []},
        {"version": "1", "curriculum": [{"id": "a", "name": "A", "source": "s", "colour": "red"}]},
        {"version": "1", "curriculum": [{"id": "a", "name": "A", "source": "s", "topics": [""]}]},
        {"version": "1", "curriculum": [{"id": "a", "name": "A", "source": "s"}] * 2},
    ],
)  # fmt: skip
def test_malformed_curricula_are_refused(doc: dict[str, object]) -> None:
    with pytest.raises(CurriculaError):
        parse_curricula(doc)


def test_style_filter_keeps_safe_readable_values_only() -> None:
    props = style.safe_properties(
        {
            "color_background": "#edeae3",
            "color_text": "#303030",
            "color_highlight": "#69b5ce",  # too light for white button text: dropped
            "font_family_body": "Georgia, Times, 'Times New Roman', serif",
            "font_family_heading": "x; } body { background: url(https://evil.test/) }",
            "dim_border_radius": "0px",
            "dim_font_size": "13px",
        }
    )
    assert props == {
        "--poc-bg": "#edeae3",
        "--poc-fg": "#303030",
        "--poc-font": "Georgia, Times, 'Times New Roman', serif",
        "--poc-radius": "0px",
        "--poc-font-size": "13px",
    }
    assert style.safe_properties({"color_background": "#777777", "color_text": "#888888"}) == {}
    assert style.safe_properties(["not", "a", "dict"]) == {}


def test_contrast_ratio_matches_wcag() -> None:
    assert round(style.contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(style.contrast("#777777", "#ffffff"), 2) == 4.48
