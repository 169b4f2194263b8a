"""The documentation form: which controls a code needs, and form values → ServiceRecord input (rules-
contract).

The browser sends plain form fields (strings); the draft keeps them as typed, so a resumed draft shows exactly
what the clinician wrote. Only the fields the chosen code needs (``catalogue()[code].fields``) reach the
engine: a value left in a control that the page hides must not change the evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from smart_app.point_of_care import curricula as document_curricula
from smart_app.point_of_care.rows import Row

# Form controls that may carry several values, in the order the clinician ticked them.
MULTI = frozenset({"dx", "topic"})
# ServiceRecord fields every code gets: they decide payer, role, date and the diagnosis pointers.
ALWAYS = frozenset({"code", "service_date", "diagnoses", "payer_class", "provider_role"})
# What the note says beyond the billing facts (fhir_mappings.note), by code family; never billed on.
NOTE_FIELDS = {
    "therapy": ("interventions", "skilled_rationale", "assessment", "plan"),
    "education": ("learning_needs", "barriers", "teach_back", "caregiver", "interpreter"),
}
YES_NO = {"yes": True, "no": False}
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

FormFields = dict[str, str | list[str]]


@dataclass(frozen=True)
class FormError:
    """A value the form could not turn into the ServiceRecord; ``field`` is the control's name."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def fields_from(form: Any) -> FormFields:
    """Copy a request form (werkzeug MultiDict or a plain mapping) into the draft's JSON-safe shape."""
    out: FormFields = {}
    for name in form:
        if name in ("csrf_token", "action") or len(name) > 64:
            continue
        if name in MULTI:
            values = form.getlist(name) if hasattr(form, "getlist") else _as_list(form[name])
            out[name] = [v.strip() for v in values if isinstance(v, str) and v.strip()][:50]
        else:
            value = form.get(name, "")
            out[name] = (value if isinstance(value, str) else "").strip()[:20000]
    return out


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _list(fields: Mapping[str, Any], name: str) -> list[str]:
    value = fields.get(name, [])
    return [v for v in _as_list(value) if isinstance(v, str) and v]


class _Reader:
    """Turns text controls into typed values, collecting one error per bad control."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields
        self.errors: list[FormError] = []

    def int(self, name: str, label: str) -> int | None:
        raw = _text(self.fields, name)
        if not raw:
            return None
        if not re.fullmatch(r"\d{1,4}", raw):
            self.errors.append(FormError(name, f"{label} must be a whole number."))
            return None
        return int(raw)

    def number(self, name: str, label: str) -> float | None:
        raw = _text(self.fields, name).replace(",", "")
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value < 0 or value != value:  # negative or NaN
            self.errors.append(FormError(name, f"{label} must be a positive amount."))
            return None
        return value

    def yes_no(self, name: str) -> bool | None:
        return YES_NO.get(_text(self.fields, name))

    def text(self, name: str) -> str | None:
        return _text(self.fields, name) or None

    def date(self, name: str, label: str) -> str | None:
        raw = _text(self.fields, name)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            self.errors.append(FormError(name, f"{label} must be a date (YYYY-MM-DD)."))
            return None


def minutes_from_times(start: str, end: str) -> int | None:
    """Minutes between two HH:MM times on the same day; None when either is not a time or end is not later."""
    m1, m2 = TIME_RE.match(start), TIME_RE.match(end)
    if not m1 or not m2:
        return None
    t1 = datetime(2000, 1, 1, int(m1[1]), int(m1[2]))
    t2 = datetime(2000, 1, 1, int(m2[1]), int(m2[2]))
    delta = int((t2 - t1).total_seconds() // 60)
    return delta if delta > 0 else None


def _minutes(r: _Reader) -> int | None:
    minutes = r.int("minutes", "Minutes")
    start, end = _text(r.fields, "start_time"), _text(r.fields, "end_time")
    if not start and not end:
        return minutes
    from_times = minutes_from_times(start, end)
    if from_times is None:
        r.errors.append(
            FormError("end_time", "Give both start and end times (HH:MM), the end after the start.")
        )
        return minutes
    if minutes is not None and minutes != from_times:
        r.errors.append(
            FormError("minutes", f"Minutes ({minutes}) and the times ({from_times} min) disagree.")
        )
    return from_times


def _topics(fields: Mapping[str, Any]) -> list[str]:
    chosen = document_curricula.by_name(_text(fields, "curriculum"))
    allowed = set(chosen.topics) if chosen else set()
    ticked = [t for t in _list(fields, "topic") if t in allowed]
    typed = [line.strip() for line in re.split(r"[\n;]", _text(fields, "topics_other")) if line.strip()]
    return list(dict.fromkeys(ticked + typed))


def _diagnoses(fields: Mapping[str, Any]) -> list[str]:
    typed = [c.strip().upper() for c in re.split(r"[,\s]+", _text(fields, "dx_extra")) if c.strip()]
    return list(dict.fromkeys([c.upper() for c in _list(fields, "dx")] + typed))


def _other_timed(r: _Reader) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in re.split(r"[,;\n]+", _text(r.fields, "other_timed_minutes")):
        if not part.strip():
            continue
        m = re.fullmatch(r"\s*([0-9A-Za-z]{5})\s*[=:]\s*(\d{1,3})\s*", part)
        if not m:
            r.errors.append(
                FormError("other_timed_minutes", "Write other timed services as CODE=minutes, e.g. 97110=10.")
            )
            return {}
        out[m[1].upper()] = int(m[2])
    return out


def _assistant(r: _Reader, minutes: int | None) -> int | None:
    """Who furnished a therapy service: all of it by an assistant (PTA/OTA), shared (the assistant's minutes
    given), or the clinician alone. A draft from before the choice existed gives the assistant's minutes."""
    by = _text(r.fields, "furnished_by")
    if by == "assistant":
        return minutes
    if by in ("shared", ""):
        return r.int("assistant_minutes", "Assistant minutes")
    return None


def row_fields(fields: Mapping[str, Any], row: Row) -> dict[str, Any]:
    """The visit's shared fields with one row's values in the single-service names (``code``, ``minutes``...),
    so each service is read exactly as a one-service form is."""
    merged = dict(fields)
    merged.update(row.values)
    return merged


def _curriculum(fields: Mapping[str, Any]) -> str | None:
    picked = _text(fields, "curriculum")
    if picked == "__other__":
        return _text(fields, "curriculum_other") or None
    return picked or None


def record_input(
    fields: Mapping[str, Any], needed: Iterable[str], *, default_date: date | None, family: str = ""
) -> tuple[dict[str, Any], list[FormError]]:
    """Build ``parse_service_record`` input from the form, keeping only the fields the code needs."""
    keep = set(needed) | ALWAYS
    r = _Reader(fields)
    data: dict[str, Any] = {"code": _text(fields, "code").upper()}
    data["service_date"] = r.date("service_date", "Service date") or (
        default_date.isoformat() if default_date else None
    )
    data["diagnoses"] = _diagnoses(fields)
    data["payer_class"] = r.text("payer_class")
    data["provider_role"] = r.text("provider_role")
    optional: dict[str, Any] = {
        "minutes": lambda: _minutes(r),
        "mode": lambda: r.text("mode"),
        "location": lambda: r.text("location"),
        "patients_in_group": lambda: r.int("patients_in_group", "Patients in the group"),
        "patient_present": lambda: r.yes_no("patient_present"),
        "caregiver_present": lambda: r.yes_no("caregiver_present"),
        "curriculum": lambda: _curriculum(fields),
        "topics": lambda: _topics(fields),
        "adaptations": lambda: r.text("adaptations"),
        "response": lambda: r.text("response"),
        "other_timed_minutes": lambda: _other_timed(r),
        "assistant_minutes": lambda: _assistant(r, data.get("minutes")),
        "evaluation": lambda: _evaluation(r),
        "rtm": lambda: _rtm(r),
        "consent_documented": lambda: r.yes_no("consent_documented"),
        "plan_of_care_certified": lambda: r.yes_no("plan_of_care_certified"),
        "therapy_ytd_allowed": lambda: r.number("therapy_ytd_allowed", "Allowed amount this year"),
    }
    for name, read in optional.items():
        if name in keep:
            data[name] = read()
    for name in NOTE_FIELDS.get(family, ()):
        data[name] = r.text(name)
    return {k: v for k, v in data.items() if v is not None}, r.errors


def _evaluation(r: _Reader) -> dict[str, Any] | None:
    comp = {
        "personal_factors": r.int("eval_personal_factors", "Personal factors"),
        "body_systems": r.int("eval_body_systems", "Body systems"),
        "presentation": r.text("eval_presentation"),
        "decision_complexity": r.text("eval_decision_complexity"),
    }
    comp = {k: v for k, v in comp.items() if v is not None}
    return comp or None


def _rtm(r: _Reader) -> dict[str, Any] | None:
    rtm = {
        "days_of_data": r.int("rtm_days_of_data", "Days of data"),
        "management_minutes": r.int("rtm_management_minutes", "Management minutes"),
        "interactive_communication": r.yes_no("rtm_interactive_communication"),
        "rpm_same_month": r.yes_no("rtm_rpm_same_month"),
    }
    rtm = {k: v for k, v in rtm.items() if v is not None}
    return rtm or None


# Which form control a ServiceRecord field (or a finding's ``field``) moves focus to.
FOCUS = {
    "code": "f-code",
    "service_date": "f-service_date",
    "minutes": "f-minutes",
    "mode": "f-mode",
    "location": "f-location",
    "patients_in_group": "f-patients_in_group",
    "patient_present": "f-patient_present",
    "caregiver_present": "f-caregiver_present",
    "curriculum": "f-curriculum",
    "topics": "f-topics_other",
    "adaptations": "f-adaptations",
    "response": "f-response",
    "diagnoses": "f-dx",
    "dx": "f-dx",
    "other_timed_minutes": "f-other_timed_minutes",
    "assistant_minutes": "f-assistant_minutes",
    "evaluation": "f-eval_personal_factors",
    "rtm": "f-rtm_days_of_data",
    "consent_documented": "f-consent_documented",
    "plan_of_care_certified": "f-plan_of_care_certified",
    "therapy_ytd_allowed": "f-therapy_ytd_allowed",
    "payer": "f-payer_class",
    "payer_class": "f-payer_class",
    "provider": "f-provider_role",
    "provider_role": "f-provider_role",
    "order": "f-code",
    "orders": "f-code",
    "units": "f-minutes",
    "modifiers": "f-code",
    "place_of_service": "f-mode",
    "patient": "f-patient_present",
    "duplicate": "f-service_date",
}


def focus_id(field: str | None) -> str:
    """The id of the control a finding about ``field`` concerns (``rtm.days_of_data`` → the RTM days box;
    ``s2_minutes``, a row's own control, → its box)."""
    field = (field or "").split(",")[0].strip()  # "curriculum, topics": the first one named
    if not field:
        return "f-code"
    if re.fullmatch(r"s\d{1,2}_[a-z_]+", field):
        return f"f-{field}"
    if field in FOCUS:
        return FOCUS[field]
    head, _, tail = field.partition(".")
    if head == "evaluation" and tail:
        return f"f-eval_{tail}"
    if head == "rtm" and tail:
        return f"f-rtm_{tail}"
    return FOCUS.get(head, "f-code")
