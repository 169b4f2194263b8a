"""The plain-text education note generated from the documented service.

The clinician may edit this text before signing, so the resource builders take the final text, not a record.
Only what was documented is written: an unknown field is left out, never filled with a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from billing_rules.model import ChargeLine, ServiceRecord

MODE_WORDS = {"in-person": "in person", "video": "video telehealth", "audio-only": "audio-only telehealth"}
LOCATION_WORDS = {
    "office": "office",
    "home": "patient's home",
    "outpatient-hospital": "outpatient hospital",
    "other": "other location",
}


def generate_note(
    record: ServiceRecord,
    *,
    charge_lines: Sequence[ChargeLine] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    diagnosis_labels: Mapping[str, str] | None = None,
    code_text: str | None = None,
    author_name: str | None = None,
) -> str:
    """Return the note text: one labelled line per documented fact, in a fixed order."""
    lines = ["Patient education note"]
    service = f"Service: {record.code}" + (f" ({code_text})" if code_text else "")
    lines.append(service)
    lines.extend(_time_lines(record, start, end))
    where = LOCATION_WORDS.get(record.location, record.location)
    lines.append(f"Mode: {MODE_WORDS.get(record.mode, record.mode)}, {where}")
    lines.append(f"Participants: {_participants(record)}")
    if record.curriculum:
        lines.append(f"Curriculum: {record.curriculum}")
    if record.topics:
        lines.append("Topics: " + "; ".join(record.topics))
    if record.adaptations:
        lines.append(f"Adaptations: {record.adaptations}")
    if record.response:
        lines.append(f"Patient response: {record.response}")
    codes = _linked_diagnoses(record, charge_lines)
    if codes:
        labels = diagnosis_labels or {}
        shown = [f"{c} {labels[c]}" if labels.get(c) else c for c in codes]
        lines.append("Diagnoses addressed: " + "; ".join(shown))
    if author_name:
        lines.append(f"Educator: {author_name}")
    return "\n".join(lines) + "\n"


def _time_lines(record: ServiceRecord, start: datetime | None, end: datetime | None) -> list[str]:
    out: list[str] = []
    if record.service_date:
        out.append(f"Date: {record.service_date.isoformat()}")
    if start and end:
        out.append(f"Time: {start.strftime('%H:%M')} to {end.strftime('%H:%M')}")
    if record.minutes is not None:
        out.append(f"Face-to-face minutes: {record.minutes}")
    return out


def _participants(record: ServiceRecord) -> str:
    parts: list[str] = []
    if record.patients_in_group > 1:
        parts.append(f"group of {record.patients_in_group} patients")
    elif record.patient_present:
        parts.append("patient")
    else:
        parts.append("patient not present")
    if record.caregiver_present:
        parts.append("caregiver present")
    return ", ".join(parts)


def _linked_diagnoses(record: ServiceRecord, charge_lines: Sequence[ChargeLine]) -> list[str]:
    """The record's linked codes in pointer order, then any a charge line adds (kept unique)."""
    seen: list[str] = []
    for code in [*record.diagnoses, *(d for line in charge_lines for d in line.diagnoses)]:
        if code not in seen:
            seen.append(code)
    return seen
