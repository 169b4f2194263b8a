"""The plain-text note generated from a documented service or visit; the clinician edits it before signing.

One note per visit. Its family follows the codes: a therapy daily note (each intervention with its code,
minutes and units, total timed minutes and total treatment time, skilled rationale, response, assessment and
plan, signed by the therapist) or a patient education note (curriculum, topics, learning needs and barriers,
adaptations, teach-back, who took part, signed by the educator with credentials); a visit mixing both is a
visit note with both parts. Only what was documented is written: an unknown field is left out, never guessed.
A fact the services share is said once; one that differs is said per code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from billing_rules.loader import RuleSet, default_rules
from billing_rules.model import ChargeLine, ServiceRecord
from billing_rules.visit import VisitRecord, timed_minutes

Family = Literal["therapy", "education", "mixed"]
MODE_WORDS = {"in-person": "in person", "video": "video telehealth", "audio-only": "audio-only telehealth"}
LOCATION_WORDS = {
    "office": "office",
    "home": "patient's home",
    "outpatient-hospital": "outpatient hospital",
    "other": "other location",
}
SIGNER = {"therapy": "Therapist", "education": "Educator", "mixed": "Clinician"}
ASSISTANT_WORDS = {"PTA": "a physical therapist assistant", "OTA": "an occupational therapy assistant"}
THERAPY_TITLES = {"PT": "Physical therapy", "PTA": "Physical therapy", "OT": "Occupational therapy"}
THERAPY_TITLES["OTA"] = THERAPY_TITLES["OT"]
PRESENTATION_WORDS = {"stable": "stable", "evolving": "evolving", "unstable": "unstable"}
# (field, label) of what is said once when the services share it, per code when they differ.
EDUCATION_FIELDS = (
    ("curriculum", "Curriculum"),
    ("learning_needs", "Learning needs"),
    ("barriers", "Barriers to learning"),
    ("adaptations", "Adaptations"),
    ("teach_back", "Teach-back"),
    ("response", "Patient response"),
)
THERAPY_FIELDS = (
    ("skilled_rationale", "Skilled rationale"),
    ("response", "Patient response"),
    ("assessment", "Assessment"),
    ("plan", "Plan"),
)


def note_family(codes: Sequence[str], rules: RuleSet | None = None) -> Family:
    """Therapy, education or both, from the codes' catalogue groups (a 97xxx code outside it is therapy)."""
    rules = rules or default_rules()
    kinds = {_family_of(code, rules) for code in codes}
    if kinds == {"education"}:
        return "education"
    return "therapy" if "education" not in kinds else "mixed"


def _family_of(code: str, rules: RuleSet) -> str:
    entries = rules.codes.get(code)
    group = str(entries[-1].get("group", "")) if entries else ""
    if not group:
        return "therapy" if code.startswith("97") else "education"
    education = ("education" in group or "nutrition" in group) and "therapy" not in group
    return "education" if education else "therapy"


def generate_note(
    record: ServiceRecord | VisitRecord,
    *,
    charge_lines: Sequence[ChargeLine] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    diagnosis_labels: Mapping[str, str] | None = None,
    code_text: str | Mapping[str, str] | None = None,
    author_name: str | None = None,
    author_credentials: str | None = None,
    rules: RuleSet | None = None,
) -> str:
    """Return the note text: one labelled line per documented fact, in a fixed order.

    ``code_text`` is our own paraphrase of the code (a mapping of code to paraphrase for a visit);
    ``charge_lines`` give the units shown per code (none for a note signed without charges)."""
    rules = rules or default_rules()
    visit = record if isinstance(record, VisitRecord) else VisitRecord(services=(record,))
    texts = code_text if isinstance(code_text, Mapping) else {visit.services[0].code: code_text or ""}
    family = note_family(visit.codes, rules)
    lines = [_title(visit, family, rules)]
    lines += _when_and_where(visit, start, end)
    if family == "education":
        lines += _education_services(visit, texts)
    else:
        lines += _interventions(visit, texts, charge_lines, rules)
    lines.append(f"Participants: {_participants(visit)}")
    if family != "therapy":
        lines += _education_part(visit)
    lines += _evaluation(visit)
    therapy_fields = {"therapy": THERAPY_FIELDS, "mixed": THERAPY_FIELDS[:1] + THERAPY_FIELDS[2:]}
    for name, label in therapy_fields.get(family, ()):
        lines += _shared(visit, name, label)
    lines += _diagnoses(visit, charge_lines, diagnosis_labels or {})
    signer = ", ".join(p for p in (author_name, author_credentials) if p)
    if signer:
        lines.append(f"{SIGNER[family]}: {signer}")
    return "\n".join(lines) + "\n"


def note_title(record: ServiceRecord | VisitRecord, rules: RuleSet | None = None) -> tuple[str, Family]:
    """The note's title (the DocumentReference's too) and its family."""
    rules = rules or default_rules()
    visit = record if isinstance(record, VisitRecord) else VisitRecord(services=(record,))
    family = note_family(visit.codes, rules)
    return _title(visit, family, rules), family


def _title(visit: VisitRecord, family: Family, rules: RuleSet) -> str:
    if family == "education":
        return "Patient education note"
    if family == "mixed":
        return "Visit note"
    roles = [s.provider_role for s in visit.services if s.provider_role in THERAPY_TITLES]
    discipline = THERAPY_TITLES[roles[0]] if roles else "Therapy"
    evaluation = any(e.get("group") == "evaluations" for c in visit.codes for e in rules.codes.get(c, ()))
    return f"{discipline} {'evaluation' if evaluation else 'daily'} note"


def _when_and_where(visit: VisitRecord, start: datetime | None, end: datetime | None) -> list[str]:
    out: list[str] = []
    if visit.service_date:
        out.append(f"Date: {visit.service_date.isoformat()}")
    if start and end:
        out.append(f"Time: {start.strftime('%H:%M')} to {end.strftime('%H:%M')}")
    first = visit.services[0]
    where = LOCATION_WORDS.get(first.location, first.location)
    out.append(f"Mode: {MODE_WORDS.get(first.mode, first.mode)}, {where}")
    return out


def _education_services(visit: VisitRecord, texts: Mapping[str, str]) -> list[str]:
    if len(visit.services) == 1:
        s = visit.services[0]
        out = ["Service: " + _named(s.code, texts)]
        if s.minutes is not None:
            out.append(f"Face-to-face minutes: {s.minutes}")
        return out
    out = ["Services:"]
    for s in visit.services:
        minutes = f": {s.minutes} minutes face to face" if s.minutes is not None else ""
        out.append(f"- {_named(s.code, texts)}{minutes}")
    return out


def _interventions(
    visit: VisitRecord, texts: Mapping[str, str], charge_lines: Sequence[ChargeLine], rules: RuleSet
) -> list[str]:
    """Each intervention with its code, minutes and units; then the two totals CMS asks for."""
    units: dict[str, int] = {}
    for line in charge_lines:
        units[line.code] = units.get(line.code, 0) + line.units
    timed = timed_minutes(visit, rules)
    out = ["Interventions:"]
    for s in visit.services:
        parts = [f"- {_named(s.code, texts)}"]
        detail = [f"{s.minutes} min" if s.minutes is not None else None]
        if s.provider_role in ASSISTANT_WORDS:
            detail.append(f"furnished by {ASSISTANT_WORDS[s.provider_role]}")
        elif s.assistant_minutes:
            detail.append(f"{s.assistant_minutes} min furnished by an assistant")
        if charge_lines:
            detail.append(_units_words(s, units, timed))
        parts.append(": " + ", ".join(d for d in detail if d) if any(detail) else "")
        if s.interventions and not _all_same(visit, "interventions"):
            parts.append(f". {s.interventions}")
        out.append("".join(parts))
    if _all_same(visit, "interventions") and visit.services[0].interventions:
        out.append(f"Interventions performed: {visit.services[0].interventions}")
    if timed:
        out.append(f"Total timed minutes: {sum(timed.values())}")
    treatment = sum(s.minutes or 0 for s in visit.services)
    if treatment:
        out.append(f"Total treatment time: {treatment} minutes")
    return out


def _units_words(s: ServiceRecord, units: Mapping[str, int], timed: Mapping[str, int]) -> str:
    n = units.get(s.code, 0)
    if n:
        return f"{n} unit{'s' if n > 1 else ''}"
    if s.code in timed:
        return "no unit of its own (counted in the total timed minutes)"
    return "not billed"


def _participants(visit: VisitRecord) -> str:
    s = visit.services[0]
    parts: list[str] = []
    if s.patients_in_group > 1:
        parts.append(f"group of {s.patients_in_group} patients")
    elif s.patient_present:
        parts.append("patient")
    else:
        parts.append("patient not present")
    caregiver = next((x.caregiver for x in visit.services if x.caregiver), None)
    if caregiver:
        parts.append(f"caregiver ({caregiver})")
    elif any(x.caregiver_present for x in visit.services):
        parts.append("caregiver present")
    interpreter = next((x.interpreter for x in visit.services if x.interpreter), None)
    if interpreter:
        parts.append(f"interpreter ({interpreter})")
    return ", ".join(parts)


def _education_part(visit: VisitRecord) -> list[str]:
    out = _shared(visit, "curriculum", "Curriculum")
    topics = list(dict.fromkeys(t for s in visit.services for t in s.topics))
    if topics:
        out.append("Topics: " + "; ".join(topics))
    for name, label in EDUCATION_FIELDS[1:]:
        out += _shared(visit, name, label)
    return out


def _evaluation(visit: VisitRecord) -> list[str]:
    out = []
    for s in visit.services:
        ev = s.evaluation
        if ev is None:
            continue
        said = [
            f"personal factors and comorbidities: {ev.personal_factors}"
            if ev.personal_factors is not None
            else "",
            f"body systems examined: {ev.body_systems}" if ev.body_systems is not None else "",
            f"clinical presentation: {ev.presentation}" if ev.presentation else "",
            f"clinical decision making: {ev.decision_complexity} complexity"
            if ev.decision_complexity
            else "",
        ]
        if any(said):
            out.append(f"Evaluation ({s.code}): " + "; ".join(p for p in said if p))
    return out


def _shared(visit: VisitRecord, name: str, label: str) -> list[str]:
    """One line: the value where the services share it, else each code's own value."""
    values = [(s.code, getattr(s, name)) for s in visit.services if getattr(s, name)]
    if not values:
        return []
    distinct = list(dict.fromkeys(v for _, v in values))
    if len(distinct) == 1:
        return [f"{label}: {distinct[0]}"]
    return [f"{label}: " + "; ".join(f"{code}: {v}" for code, v in values)]


def _all_same(visit: VisitRecord, name: str) -> bool:
    return len({getattr(s, name) for s in visit.services}) == 1


def _diagnoses(
    visit: VisitRecord, charge_lines: Sequence[ChargeLine], labels: Mapping[str, str]
) -> list[str]:
    """The linked codes in pointer order, then any a charge line adds (kept unique)."""
    codes = list(
        dict.fromkeys(
            [
                *(d for s in visit.services for d in s.diagnoses),
                *(d for ln in charge_lines for d in ln.diagnoses),
            ]
        )
    )
    if not codes:
        return []
    return ["Diagnoses addressed: " + "; ".join(f"{c} {labels[c]}" if labels.get(c) else c for c in codes)]


def _named(code: str, texts: Mapping[str, str]) -> str:
    return f"{code} ({texts[code]})" if texts.get(code) else code
