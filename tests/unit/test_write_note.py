"""Note text and identifiers: what the clinician documented, and keys that never change for one service."""

from __future__ import annotations

from dataclasses import field, fields, make_dataclass
from datetime import date

from billing_rules.model import RtmData, ServiceRecord
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


def test_the_sandbox_draft_id_of_a_documented_service_never_changes() -> None:
    """Pinned: a changed hash gives a rerun new identifiers, and a server without our earlier ones a second
    charge. Values computed when the hash was defined."""
    assert service_record_hash(record()) == "svc-43af517a8ffdf9274b5093a1"
    assert service_record_hash(ServiceRecord(code="98960")) == "svc-ed646e17cbbdef0d014a430e"
    nested = record(rtm=RtmData(days_of_data=20), other_timed_minutes={"97110": 10})
    assert service_record_hash(nested) == "svc-01ec064cadb5a72bd666d26b"


def test_a_field_added_to_the_service_record_keeps_old_draft_ids_until_it_is_used() -> None:
    later = make_dataclass(
        "LaterServiceRecord",
        [("authorization", str | None, field(default=None))],
        bases=(ServiceRecord,),
        frozen=True,
    )
    old = record()
    assert service_record_hash(later(**asdict_shallow(old))) == service_record_hash(old)
    assert service_record_hash(later(**asdict_shallow(old), authorization="PA-1")) != service_record_hash(old)
    later_rtm = make_dataclass(
        "LaterRtm", [("device", str, field(default=""))], bases=(RtmData,), frozen=True
    )
    with_rtm = record(rtm=RtmData(days_of_data=20))
    assert service_record_hash(record(rtm=later_rtm(days_of_data=20))) == service_record_hash(with_rtm)


def asdict_shallow(value: ServiceRecord) -> dict[str, object]:
    return {f.name: getattr(value, f.name) for f in fields(value)}
