"""Search parameters the sandbox store indexes, and how their values are pulled out of a resource.

Kept as data so the CapabilityStatement can list exactly what search supports (it must tell the truth).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """One search parameter: its FHIR type and the element paths (dot-separated) it reads."""

    kind: str  # token | reference | string | date
    paths: tuple[str, ...]


def _p(kind: str, *paths: str) -> Param:
    return Param(kind, paths)


SUBJECT = _p("reference", "subject")

PARAMS: dict[str, dict[str, Param]] = {
    "Patient": {"name": _p("string", "name"), "identifier": _p("token", "identifier")},
    "Encounter": {
        "patient": SUBJECT,
        "date": _p("date", "period"),
        "status": _p("token", "status"),
        "class": _p("token", "class"),
    },
    "Condition": {
        "patient": SUBJECT,
        "encounter": _p("reference", "encounter"),
        "category": _p("token", "category"),
        "clinical-status": _p("token", "clinicalStatus"),
        "code": _p("token", "code"),
    },
    "Coverage": {
        "patient": _p("reference", "beneficiary"),
        "status": _p("token", "status"),
        "payor": _p("reference", "payor"),
    },
    "ServiceRequest": {
        "patient": SUBJECT,
        "status": _p("token", "status"),
        "encounter": _p("reference", "encounter"),
        "requester": _p("reference", "requester"),
    },
    "Practitioner": {"name": _p("string", "name"), "identifier": _p("token", "identifier")},
    "PractitionerRole": {"practitioner": _p("reference", "practitioner")},
    "Organization": {"name": _p("string", "name"), "identifier": _p("token", "identifier")},
    "ChargeItem": {
        "patient": SUBJECT,
        "context": _p("reference", "context"),
        "code": _p("token", "code"),
        "identifier": _p("token", "identifier"),
        "status": _p("token", "status"),
        "account": _p("reference", "account"),
    },
    "DocumentReference": {
        "patient": SUBJECT,
        "encounter": _p("reference", "context.encounter"),
        "identifier": _p("token", "identifier"),
        "type": _p("token", "type"),
    },
    "Provenance": {"target": _p("reference", "target")},
    "Procedure": {"patient": SUBJECT, "encounter": _p("reference", "encounter")},
    "CarePlan": {"patient": SUBJECT},
    "Goal": {"patient": SUBJECT},
    "Group": {"member": _p("reference", "member.entity"), "type": _p("token", "type")},
}

#: Element holding the patient a resource belongs to (the patient compartment, for ``patient/`` scopes).
PATIENT_LINK: dict[str, str] = {
    "Encounter": "subject",
    "Condition": "subject",
    "Coverage": "beneficiary",
    "ServiceRequest": "subject",
    "ChargeItem": "subject",
    "DocumentReference": "subject",
    "Procedure": "subject",
    "CarePlan": "subject",
    "Goal": "subject",
}


def include_params(rtype: str) -> list[str]:
    """``_include`` works for every reference parameter of a type (e.g. ``Coverage:payor``)."""
    return [name for name, param in PARAMS.get(rtype, {}).items() if param.kind == "reference"]


SUPPORTED_TYPES: tuple[str, ...] = tuple(PARAMS)


def walk(resource: Any, path: str) -> Iterator[Any]:
    """Yield every value at a dotted path, flattening lists on the way (FHIRPath-lite)."""
    values = [resource]
    for step in path.split("."):
        nxt: list[Any] = []
        for value in values:
            item = value.get(step) if isinstance(value, dict) else None
            if isinstance(item, list):
                nxt.extend(item)
            elif item is not None:
                nxt.append(item)
        values = nxt
    yield from values


def _tokens(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        if "coding" in value:
            for coding in value["coding"]:
                yield from _tokens(coding)
        code = value.get("code") or value.get("value")
        if code:
            yield str(code)
            yield f"{value.get('system', '')}|{code}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value.lower()
    elif isinstance(value, dict):
        for key in ("family", "text"):
            if isinstance(value.get(key), str):
                yield value[key].lower()
        for given in value.get("given", []):
            yield str(given).lower()


def _references(value: Any) -> Iterator[str]:
    ref = value.get("reference") if isinstance(value, dict) else None
    if isinstance(ref, str) and ref:
        yield ref
        if "/" in ref:
            yield ref.rsplit("/", 1)[1]


def _dates(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield value, value
    elif isinstance(value, dict) and value.get("start"):
        yield value["start"], value.get("end") or "9999"


def index_rows(resource: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(param, value, value2) rows for the store's index; dates use value..value2 as a range."""
    rows: list[tuple[str, str, str | None]] = []
    for name, param in PARAMS.get(resource["resourceType"], {}).items():
        for path in param.paths:
            for value in walk(resource, path):
                if param.kind == "date":
                    rows.extend((name, lo, hi) for lo, hi in _dates(value))
                    continue
                extract = {"token": _tokens, "string": _strings, "reference": _references}[param.kind]
                rows.extend((name, v, None) for v in extract(value))
    return sorted(set(rows), key=lambda r: (r[0], r[1], r[2] or ""))


def patient_of(resource: dict[str, Any]) -> str | None:
    """The patient id a resource belongs to (None for shared resources such as Practitioner)."""
    if resource["resourceType"] == "Patient":
        return str(resource.get("id"))
    link = PATIENT_LINK.get(resource["resourceType"])
    for ref in walk(resource, link) if link else ():
        value = ref.get("reference", "") if isinstance(ref, dict) else ""
        if value.startswith("Patient/"):
            return str(value.split("/", 1)[1])
    return None
