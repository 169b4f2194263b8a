"""Note text and identifiers: what the clinician documented, and keys that never change for one service."""

from __future__ import annotations

from datetime import date

from fhir_mappings.note import generate_note
from smart_app.writeback.identifiers import business_id, placeholder_url, service_record_hash
from tests.unit.test_write_factories import END, LABELS, START, line, record


def test_note_lists_every_documented_fact_in_order() -> None:
    text = generate_note(
        record(caregiver_present=True),
        charge_lines=[line(diagnoses=("E11.9", "Z71.89"))],
        start=START,
        end=END,
        diagnosis_labels=LABELS,
        code_text="self-management education, individual",
        author_name="Ana Educator",
    )
    lines = text.splitlines()
    assert lines[0] == "Patient education note"
    assert "Service: 98960 (self-management education, individual)" in lines
    assert "Time: 17:30 to 18:00" in lines
    assert "Face-to-face minutes: 30" in lines
    assert "Mode: in person, office" in lines
    assert "Participants: patient, caregiver present" in lines
    assert "Curriculum: DSMES standard curriculum" in lines
    assert "Topics: glucose self-monitoring; hypoglycemia recognition; foot care" in lines
    assert "Adaptations: large-print handouts" in lines
    assert "Patient response: teach-back correct; demonstrated meter use" in lines
    assert "Diagnoses addressed: E11.9 Type 2 diabetes mellitus without complications; Z71.89" in lines
    assert lines[-1] == "Educator: Ana Educator"


def test_note_leaves_out_what_was_not_documented() -> None:
    text = generate_note(record(curriculum=None, topics=(), adaptations=None, response=None, minutes=None))
    for label in ("Curriculum", "Topics", "Adaptations", "Patient response", "Face-to-face", "Time:"):
        assert label not in text


def test_note_describes_groups_and_telehealth() -> None:
    text = generate_note(record(patients_in_group=4, mode="video", location="home"))
    assert "Participants: group of 4 patients" in text
    assert "Mode: video telehealth, patient's home" in text


def _id(**changes: object) -> str:
    base: dict[str, object] = {
        "issuer": "https://ehr.test/fhir",
        "patient_id": "p1",
        "encounter_id": "e1",
        "code": "98960",
        "service_date": date(2026, 11, 2),
        "draft_id": "d1",
    }
    base.update(changes)
    return business_id("charge", **base)  # type: ignore[arg-type]


def test_business_id_is_deterministic_and_depends_on_every_input() -> None:
    assert _id() == _id()
    assert _id() == _id(issuer="https://ehr.test/fhir/")
    assert _id().startswith("charge-") and len(_id()) == len("charge-") + 32
    variants = [
        _id(issuer="https://other.test/fhir"),
        _id(patient_id="p2"),
        _id(encounter_id="e2"),
        _id(code="98961"),
        _id(service_date=date(2026, 11, 3)),
        _id(draft_id="d2"),
        _id(ordinal=1),
    ]
    assert len({_id(), *variants}) == len(variants) + 1


def test_placeholder_and_service_hash_are_stable() -> None:
    assert placeholder_url("charge-1") == placeholder_url("charge-1") != placeholder_url("charge-2")
    assert service_record_hash(record()) == service_record_hash(record())
    assert service_record_hash(record()) != service_record_hash(record(minutes=31))
