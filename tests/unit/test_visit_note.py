"""The visit's note: a therapy daily note or an education note, labelled for its family."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from billing_rules import evaluate_visit, parse_visit_record
from billing_rules.model import ClinicalContext, Payer, Provider
from fhir_mappings.note import generate_note, note_family, note_title

PT = {
    "service_date": "2026-03-02",
    "provider_role": "PT",
    "diagnoses": ["M17.11"],
    "plan_of_care_certified": True,
    "skilled_rationale": "Closed-chain loading graded by the therapist for form and pain.",
    "response": "Knee pain 3/10 after.",
    "assessment": "Better quadriceps control.",
    "plan": "Continue twice a week.",
    "services": [
        {"code": "97110", "minutes": 33, "interventions": "Step-ups 3x10"},
        {
            "code": "97112",
            "minutes": 24,
            "provider_role": "PTA",
            "interventions": "Single-leg stance on foam",
        },
        {"code": "97140", "minutes": 7, "interventions": "Patellar mobilization"},
    ],
}
TEXTS = {"97110": "therapeutic exercise", "97112": "neuromuscular re-education", "97140": "manual therapy"}


def pt_note(**kw: Any) -> list[str]:
    visit = parse_visit_record(PT)
    ctx = ClinicalContext(payer=Payer("medicare"), provider=Provider("PT"))
    ev = evaluate_visit(visit, ctx, as_of=date(2026, 3, 2))
    args: dict[str, Any] = {"charge_lines": ev.charge_lines, "code_text": TEXTS, **kw}
    return generate_note(visit, **args).splitlines()


def test_therapy_note_lists_each_intervention_with_code_minutes_and_units() -> None:
    lines = pt_note(author_name="Jane Doe", author_credentials="PT, DPT")
    assert lines[0] == "Physical therapy daily note"
    assert "- 97110 (therapeutic exercise): 33 min, 2 units. Step-ups 3x10" in lines
    assert (
        "- 97112 (neuromuscular re-education): 24 min, furnished by a physical therapist assistant, 2 units."
        " Single-leg stance on foam"
    ) in lines
    assert any(line.startswith("- 97140 (manual therapy): 7 min, no unit of its own") for line in lines)
    assert "Total timed minutes: 64" in lines and "Total treatment time: 64 minutes" in lines
    for label in ("Skilled rationale: ", "Patient response: ", "Assessment: ", "Plan: "):
        assert sum(line.startswith(label) for line in lines) == 1, label
    assert lines[-1] == "Therapist: Jane Doe, PT, DPT"
    assert not any(word in "\n".join(lines) for word in ("Educator", "Patient education", "Curriculum"))


def test_untimed_minutes_count_in_treatment_time_only() -> None:
    full = {
        "personal_factors": 1,
        "body_systems": 3,
        "presentation": "evolving",
        "decision_complexity": "moderate",
    }
    visit = parse_visit_record(
        {
            **PT,
            "services": [
                {"code": "97162", "minutes": 40, "evaluation": full},
                {"code": "97110", "minutes": 20},
            ],
        }
    )
    lines = generate_note(visit).splitlines()
    assert lines[0] == "Physical therapy evaluation note"
    assert "Total timed minutes: 20" in lines and "Total treatment time: 60 minutes" in lines
    assert any(
        line.startswith("Evaluation (97162): personal factors and comorbidities: 1;") for line in lines
    )


def test_a_fact_that_differs_per_service_is_said_per_code() -> None:
    services = [{**s, "response": f"ok {s['code']}"} for s in PT["services"]]
    lines = generate_note(parse_visit_record({**PT, "services": services})).splitlines()
    assert "Patient response: 97110: ok 97110; 97112: ok 97112; 97140: ok 97140" in lines


def test_education_note_has_learning_needs_barriers_teach_back_and_who_took_part() -> None:
    visit = parse_visit_record(
        {
            "service_date": "2026-03-02",
            "diagnoses": ["E11.9"],
            "services": [
                {
                    "code": "98960",
                    "minutes": 35,
                    "curriculum": "ADA DSMES",
                    "topics": ["insulin pen use"],
                    "learning_needs": "New to insulin",
                    "barriers": "Low vision",
                    "adaptations": "Large print",
                    "teach_back": "Demonstrated a pen injection",
                    "caregiver": "daughter",
                    "interpreter": "daughter, Spanish",
                }
            ],
        }
    )
    lines = generate_note(visit, author_name="Robin Lee", author_credentials="RN, CDCES").splitlines()
    assert lines[0] == "Patient education note"
    assert "Participants: patient, caregiver (daughter), interpreter (daughter, Spanish)" in lines
    for line in (
        "Learning needs: New to insulin",
        "Barriers to learning: Low vision",
        "Teach-back: Demonstrated a pen injection",
        "Face-to-face minutes: 35",
    ):
        assert line in lines
    assert lines[-1] == "Educator: Robin Lee, RN, CDCES"
    assert "Therapist" not in "\n".join(lines)


def test_families_and_titles() -> None:
    assert note_family(["98960"]) == "education"
    assert note_family(["97110", "97112"]) == "therapy"
    assert note_family(["98960", "97535"]) == "mixed"
    mixed = parse_visit_record(
        {"services": [{"code": "98960", "minutes": 30}, {"code": "97535", "minutes": 15}]}
    )
    assert note_title(mixed) == ("Visit note", "mixed")
    assert generate_note(mixed, author_name="A B").splitlines()[-1] == "Clinician: A B"
    ot = parse_visit_record({"provider_role": "OT", "services": [{"code": "97535", "minutes": 30}]})
    assert note_title(ot)[0] == "Occupational therapy daily note"


def test_times_and_nothing_guessed() -> None:
    visit = parse_visit_record({"services": [{"code": "97110"}]})
    text = generate_note(visit, start=datetime(2026, 3, 2, 9), end=datetime(2026, 3, 2, 9, 30))
    assert "Time: 09:00 to 09:30" in text
    for label in ("Total timed", "Skilled rationale", "Assessment", "Plan:", "Diagnoses", "Therapist"):
        assert label not in text
