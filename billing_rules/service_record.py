"""Parse the clinician's service JSON (rules-contract §1) into a ServiceRecord, refusing bad input precisely.

Absent or null optional fields mean "not given". A present value of the wrong type, unknown fields, an
empty or malformed code, negative or absurd minutes, bad dates and bad enum values raise
``BadInput(field, message)``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, cast

from billing_rules.errors import BadInput
from billing_rules.model import (
    PAYER_CLASSES,
    PROVIDER_ROLES,
    EvaluationComponents,
    RtmData,
    ServiceRecord,
)

MAX_SESSION_MINUTES = 480  # more than 8 hours of one face-to-face service in one session is not credible
MAX_MONTH_MINUTES = 60 * 24 * 31
CODE_RE = re.compile(r"^(\d{4}[0-9FTU]|[A-V]\d{4})$")  # CPT (incl. Cat II/III) or HCPCS Level II
MODES = ("in-person", "video", "audio-only")
# Free text the note carries (rules-contract §1 additions): empty text means not given.
NOTE_TEXT_FIELDS = (
    "interventions",
    "skilled_rationale",
    "assessment",
    "plan",
    "learning_needs",
    "barriers",
    "teach_back",
    "caregiver",
    "interpreter",
)
MAX_TEXT = 4000  # characters of one free-text field
LOCATIONS = ("office", "home", "outpatient-hospital", "other")


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadInput(field, "must be true or false")
    return value


def _unknown(key: str, known: Mapping[str, Any]) -> str:
    """'unknown field', with the likely intended name for a typo (a biller's "minuts")."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    return f"unknown field (did you mean '{close[0]}'?)" if close else "unknown field"


def _int(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        raise BadInput(field, f"must be a whole number, not text (write {value.strip()} without quotes)")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(field, "must be a whole number")
    if value < low:
        raise BadInput(field, f"must not be below {low}")
    if value > high:
        raise BadInput(field, f"{value} is not credible (at most {high})")
    return value


def _str(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadInput(field, "must be text")
    return value.strip()


def _enum(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BadInput(field, f"must be one of {', '.join(allowed)}")
    return cast(str, value)


def parse_code(field: str, value: Any) -> str:
    code = _str(field, value).upper()
    if not code:
        raise BadInput(field, "must not be empty")
    if not CODE_RE.match(code):
        raise BadInput(field, f"{code!r} is not a CPT or HCPCS code (5 characters, e.g. 98960 or G0108)")
    return code


def _date(field: str, value: Any) -> date:
    if not isinstance(value, str):
        raise BadInput(field, "must be a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(field, f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _str_list(field: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise BadInput(field, "must be a list of text")
    return tuple(_str(f"{field}[{i}]", v) for i, v in enumerate(value))


def _timed_map(field: str, value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise BadInput(field, "must map codes to minutes")
    return {
        parse_code(f"{field}.{k}", k): _int(f"{field}.{k}", v, 0, MAX_SESSION_MINUTES)
        for k, v in value.items()
    }


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadInput(field, "must be a non-negative amount")
    return float(value)


def _hours(field: str, value: Any) -> float:
    hours = _number(field, value)
    if hours > 100:
        raise BadInput(field, f"{value} hours of one benefit in a year is not credible (at most 100)")
    return hours


def _object(field: str, value: Any, parsers: Mapping[str, Callable[[str, Any], Any]]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput(field, "must be an object")
    out = {}
    for key, raw in value.items():
        if key not in parsers:
            raise BadInput(f"{field}.{key}", _unknown(key, parsers))
        if raw is not None:
            out[key] = parsers[key](f"{field}.{key}", raw)
    return out


def _evaluation(field: str, value: Any) -> EvaluationComponents:
    parsers: dict[str, Callable[[str, Any], Any]] = {
        "personal_factors": lambda f, v: _int(f, v, 0, 50),
        "body_systems": lambda f, v: _int(f, v, 0, 50),
        "presentation": lambda f, v: _enum(f, v, ("stable", "evolving", "unstable")),
        "decision_complexity": lambda f, v: _enum(f, v, ("low", "moderate", "high")),
    }
    return EvaluationComponents(**_object(field, value, parsers))


def _rtm(field: str, value: Any) -> RtmData:
    parsers: dict[str, Callable[[str, Any], Any]] = {
        "days_of_data": lambda f, v: _int(f, v, 0, 30),  # days in a 30-day period
        "management_minutes": lambda f, v: _int(f, v, 0, MAX_MONTH_MINUTES),
        "interactive_communication": _bool,
        "rpm_same_month": _bool,
        "setup_billed": _bool,
    }
    return RtmData(**_object(field, value, parsers))


PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "code": parse_code,
    "service_date": _date,
    "minutes": lambda f, v: _int(f, v, 0, MAX_SESSION_MINUTES),
    "mode": lambda f, v: _enum(f, v, MODES),
    "location": lambda f, v: _enum(f, v, LOCATIONS),
    "patients_in_group": lambda f, v: _int(f, v, 1, 100),
    "patient_present": _bool,
    "caregiver_present": _bool,
    "curriculum": _str,
    "topics": _str_list,
    "adaptations": _str,
    "response": _str,
    "diagnoses": _str_list,
    "other_timed_minutes": _timed_map,
    "assistant_minutes": lambda f, v: _int(f, v, 0, MAX_SESSION_MINUTES),
    "evaluation": _evaluation,
    "rtm": _rtm,
    "consent_documented": _bool,
    "plan_of_care_certified": _bool,
    "therapy_ytd_allowed": _number,
    "payer_class": lambda f, v: _enum(f, v, PAYER_CLASSES),
    "provider_role": lambda f, v: _enum(f, v, PROVIDER_ROLES),
    "accredited_program": _bool,
    "benefit_year": lambda f, v: _enum(f, v, ("first", "subsequent")),
    "benefit_hours_used": lambda f, v: _hours(f, v),
    "treatment_days_since_progress_report": lambda f, v: _int(f, v, 0, 366),
    "plan_of_care_start": _date,
    "plan_of_care_changed": _bool,
    **dict.fromkeys(NOTE_TEXT_FIELDS, _str),
}


def parse_service_record(data: Mapping[str, Any]) -> ServiceRecord:
    """Build a ServiceRecord from JSON-like data; raise BadInput naming the first bad field."""
    if not isinstance(data, Mapping):
        raise BadInput("service", "must be a JSON object")
    for key in data:
        if key not in PARSERS:
            raise BadInput(str(key), _unknown(str(key), PARSERS))
    if data.get("code") is None:
        raise BadInput("code", "is required")
    values = {key: PARSERS[key](key, raw) for key, raw in data.items() if raw is not None}
    if "diagnoses" in values:
        values["diagnoses"] = tuple(d for d in values["diagnoses"] if d)
    if "topics" in values:
        values["topics"] = tuple(t for t in values["topics"] if t)
    for key in ("curriculum", "adaptations", "response", *NOTE_TEXT_FIELDS):
        if key in values and not values[key]:
            values[key] = None
        elif key in values and len(values[key]) > MAX_TEXT:
            raise BadInput(key, f"is longer than {MAX_TEXT} characters")
    if values.get("assistant_minutes", 0) > values.get("minutes", MAX_SESSION_MINUTES):
        raise BadInput("assistant_minutes", "must not exceed the minutes of the service")
    return ServiceRecord(**values)
