"""Domain → FHIR R4 resources the app writes: DocumentReference, ChargeItem, Provenance, transaction Bundle,
and Oracle Health's ``ChargeItem/$create`` Parameters.

Strict writes (DESIGN.md §3): every resource is built as JSON, validated with the ``fhir.resources.R4B``
model and dumped back, so an invalid resource fails here and never reaches a server. References are relative
(``Patient/123``) or ``urn:uuid:`` placeholders that the caller resolves.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.chargeitem import ChargeItem
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.provenance import Provenance
from pydantic import ValidationError

from billing_rules.model import ChargeLine
from fhir_mappings import extensions as ext

PLAIN_TEXT_UTF8 = "text/plain;charset=utf-8"
EDUCATION_NOTE = ("34895-3", "Education note")
PROGRESS_NOTE = ("11506-3", "Progress note")
APP_DEVICE_ID = "app"
ORGANIZATION_ID = "org"
UNNAMED_ORGANIZATION = "Organization of the signing clinician (not named by the EHR)"


@dataclass(frozen=True)
class WriteContext:
    """Who, whom and when, shared by every resource of one signed service."""

    patient_id: str
    encounter_id: str | None
    author_ref: str | None  # fhirUser, e.g. Practitioner/123; None without a launch
    organization_ref: str | None
    recorded: datetime  # the moment of signing (tz-aware)
    start: datetime | None = None
    end: datetime | None = None
    service_date: date | None = None
    # Who the clinician and the app act for when the launch names no Organization (Provenance onBehalfOf).
    organization_name: str | None = None

    @property
    def occurrence(self) -> str | None:
        if self.start:
            return _dt(self.start)
        return self.service_date.isoformat() if self.service_date else None


@dataclass(frozen=True)
class BillCode:
    """One tenant bill code (Oracle Health ``BillCodes-<TIER>``), from the launch profile's mapping."""

    system: str
    code: str
    schedule_system: str | None = None
    schedule_code: str | None = None


def identifier(value: str) -> dict[str, str]:
    return {"system": ext.IDENTIFIER_SYSTEM, "value": value}


def identifier_query(value: str) -> str:
    return f"identifier={ext.IDENTIFIER_SYSTEM}|{value}"


def provenance_query(value: str) -> str:
    return f"_tag={ext.PROVENANCE_KEY_TAG_SYSTEM}|{value}"


def app_meta(*extra_tags: dict[str, str], profile: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": ext.META_SOURCE,
        "tag": [{"system": ext.WRITTEN_BY_TAG_SYSTEM, "code": ext.WRITTEN_BY_TAG_CODE}, *extra_tags],
    }
    if profile:
        meta["profile"] = [profile]
    return meta


def build_document_reference(
    ctx: WriteContext,
    *,
    identifier_value: str,
    note_text: str,
    title: str = "Patient education note",
    description: str | None = None,
    content_type: str = PLAIN_TEXT_UTF8,
    family: str = "education",
) -> dict[str, Any]:
    """US Core DocumentReference for the signed note (smart-fhir.md §3.1-3.2). ``family``: an education note
    is typed Education note and Progress note (LOINC), a therapy or mixed visit's note Progress note."""
    kinds = [EDUCATION_NOTE, PROGRESS_NOTE] if family == "education" else [PROGRESS_NOTE]
    attachment: dict[str, Any] = {
        "contentType": content_type,
        "data": base64.b64encode(note_text.encode("utf-8")).decode("ascii"),
        "title": title,
        "creation": _dt(ctx.recorded),
    }
    doc: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "meta": app_meta(profile=ext.US_CORE_DOCREF_PROFILE),
        "identifier": [identifier(identifier_value)],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [_coding(ext.LOINC_SYSTEM, *kind) for kind in kinds], "text": kinds[0][1]},
        "category": [{"coding": [_coding(ext.NOTE_CATEGORY_SYSTEM, "clinical-note", "Clinical Note")]}],
        "subject": {"reference": f"Patient/{ctx.patient_id}"},
        "date": _dt(ctx.recorded),
        "content": [{"attachment": attachment}],
    }
    if ctx.author_ref:
        doc["author"] = [{"reference": ctx.author_ref}]
    if ctx.organization_ref:
        doc["custodian"] = {"reference": ctx.organization_ref}
    if description:
        doc["description"] = description
    context: dict[str, Any] = {}
    if ctx.encounter_id:
        context["encounter"] = [{"reference": f"Encounter/{ctx.encounter_id}"}]
    period = _period(ctx)
    if period:
        context["period"] = period
    if context:
        doc["context"] = context
    return validated(DocumentReference, doc)


def build_charge_item(
    ctx: WriteContext,
    line: ChargeLine,
    *,
    identifier_value: str,
    note_ref: str | None,
    code_text: str | None = None,
    diagnosis_labels: Mapping[str, str] | None = None,
    note: str | None = None,
    status: str = "billable",
) -> dict[str, Any]:
    """ChargeItem for one charge line; modifiers and place of service go in the project extension. ``status``
    is the launch profile's ``chargeitem_status`` (``unknown`` for Oracle Health)."""
    labels = diagnosis_labels or {}
    code: dict[str, Any] = {"coding": [{"system": ext.CPT_SYSTEM, "code": line.code}]}
    if code_text:
        code["text"] = code_text
    charge: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "meta": app_meta(),
        "identifier": [identifier(identifier_value)],
        "status": status,
        "code": code,
        "subject": {"reference": f"Patient/{ctx.patient_id}"},
        "quantity": {"value": line.units},
        "enteredDate": _dt(ctx.recorded),
    }
    detail = billing_detail_extension(line)
    if detail:
        charge["extension"] = [detail]
    if ctx.encounter_id:
        charge["context"] = {"reference": f"Encounter/{ctx.encounter_id}"}
    if ctx.occurrence:
        charge["occurrenceDateTime"] = ctx.occurrence
    if ctx.author_ref:
        function = {"coding": [_coding(ext.PARTICIPATION_SYSTEM, "PRF", "performer")]}
        charge["performer"] = [{"function": function, "actor": {"reference": ctx.author_ref}}]
        charge["enterer"] = {"reference": ctx.author_ref}
    if ctx.organization_ref:
        charge["performingOrganization"] = {"reference": ctx.organization_ref}
    if line.diagnoses:
        charge["reason"] = [
            {"coding": [_coding(ext.ICD10CM_SYSTEM, dx, labels.get(dx))]} for dx in line.diagnoses
        ]
    if note_ref:
        charge["supportingInformation"] = [{"reference": note_ref}]
    if note:
        charge["note"] = [{"text": note, "time": _dt(ctx.recorded)}]
    return validated(ChargeItem, charge)


def billing_detail_extension(line: ChargeLine) -> dict[str, Any] | None:
    """The project extension: modifiers in claim order, then the place of service (docs/writeback.md)."""
    subs: list[dict[str, Any]] = [
        {"url": ext.BILLING_DETAIL_MODIFIER, "valueCoding": {"system": ext.modifier_system(m), "code": m}}
        for m in line.modifiers
    ]
    if line.place_of_service:
        pos = {"system": ext.POS_SYSTEM, "code": line.place_of_service}
        subs.append({"url": ext.BILLING_DETAIL_POS, "valueCoding": pos})
    return {"url": ext.BILLING_DETAIL_URL, "extension": subs} if subs else None


def build_provenance(
    ctx: WriteContext, *, targets: Sequence[str], key_value: str, app_version: str
) -> dict[str, Any]:
    """Provenance of what was written: the clinician as author, this app (contained Device) as assembler.

    US Core 6.1.0 ``provenance-1``: an agent whose ``who`` is a Practitioner or a Device SHALL have
    ``onBehalfOf``. Both agents act for the launch's Organization; where the launch names none, for a
    contained US Core Organization named from the launch profile (``organization_name``), never left out."""
    contained: list[dict[str, Any]] = []
    if ctx.organization_ref:
        on_behalf = {"onBehalfOf": {"reference": ctx.organization_ref}}
    else:
        name = ctx.organization_name or UNNAMED_ORGANIZATION
        contained.append(
            {"resourceType": "Organization", "id": ORGANIZATION_ID, "active": True, "name": name}
        )
        on_behalf = {"onBehalfOf": {"reference": f"#{ORGANIZATION_ID}", "display": name}}
    agents: list[dict[str, Any]] = []
    if ctx.author_ref:
        agents.append(
            {
                "type": {"coding": [_coding(ext.PROVENANCE_AGENT_SYSTEM, "author", "Author")]},
                "who": {"reference": ctx.author_ref},
                **on_behalf,
            }
        )
    agents.append(
        {
            "type": {"coding": [_coding(ext.PROVENANCE_AGENT_SYSTEM, "assembler", "Assembler")]},
            "who": {"reference": f"#{APP_DEVICE_ID}", "display": "smart-edu-billing"},
            **on_behalf,
        }
    )
    device = {
        "resourceType": "Device",
        "id": APP_DEVICE_ID,
        "deviceName": [{"name": "smart-edu-billing", "type": "user-friendly-name"}],
        "version": [{"value": app_version}],
    }
    prov: dict[str, Any] = {
        "resourceType": "Provenance",
        "meta": app_meta({"system": ext.PROVENANCE_KEY_TAG_SYSTEM, "code": key_value}),
        "contained": [device, *contained],
        "target": [{"reference": t} for t in targets],
        "recorded": _dt(ctx.recorded),
        "activity": {"coding": [_coding(ext.DATA_OPERATION_SYSTEM, "CREATE", "create")]},
        "agent": agents,
    }
    return validated(Provenance, prov)


def transaction_entry(resource: dict[str, Any], *, full_url: str, if_none_exist: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], "ifNoneExist": if_none_exist},
    }


def build_oracle_charge_parameters(
    charge: Mapping[str, Any],
    *,
    bill_code: BillCode,
    transaction_id: str,
    icd_system: str | None = None,
    modifier_system: str | None = None,
) -> dict[str, Any]:
    """Oracle Health ``POST ChargeItem/$create`` body from our ChargeItem (smart-fhir.md §2.4, the fixture).

    Oracle takes ``status: unknown`` (the ChargeItem's status, from the profile's ``chargeitem_status``, which
    the app requires to be ``unknown`` for $create), exactly one tenant bill-code coding, ``reason`` codings
    from its ``BillCodes-ICD`` system and modifiers in its ``modifier-code`` extension; our own extension is
    dropped.
    """
    coding: dict[str, Any] = {"system": bill_code.system, "code": bill_code.code}
    if bill_code.schedule_system and bill_code.schedule_code:
        coding["extension"] = [_schedule_ext(bill_code.schedule_system, bill_code.schedule_code)]
    item: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "status": charge["status"],
        "subject": charge["subject"],
        "context": charge["context"],
        "occurrenceDateTime": charge["occurrenceDateTime"],
        "quantity": charge["quantity"],
        "code": {"coding": [coding]},
    }
    if charge.get("performer"):
        item["performer"] = charge["performer"]
    if icd_system:
        item["reason"] = [
            {
                "extension": [_priority(i + 1)],
                "coding": [{"system": icd_system, "code": c["coding"][0]["code"]}],
            }
            for i, c in enumerate(charge.get("reason") or [])
        ]
    if modifier_system:
        item["extension"] = [
            _oracle_modifier(modifier_system, sub["valueCoding"]["code"], i + 1)
            for i, sub in enumerate(_modifier_subs(charge))
        ]
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "chargeItem", "resource": validated(ChargeItem, item)},
            {"name": "transactionId", "valueUuid": f"urn:uuid:{transaction_id}"},
        ],
    }
    return validated(Parameters, params)


def _modifier_subs(charge: Mapping[str, Any]) -> list[dict[str, Any]]:
    for e in charge.get("extension") or []:
        if e.get("url") == ext.BILLING_DETAIL_URL:
            return [s for s in e.get("extension") or [] if s.get("url") == ext.BILLING_DETAIL_MODIFIER]
    return []


def _oracle_modifier(system: str, code: str, priority: int) -> dict[str, Any]:
    return {
        "url": "https://fhir-ehr.cerner.com/r4/StructureDefinition/modifier-code",
        "extension": [
            {"url": "code", "valueCodeableConcept": {"coding": [{"system": system, "code": code}]}},
            _priority(priority),
        ],
    }


def _priority(n: int) -> dict[str, Any]:
    return {"url": "https://fhir-ehr.cerner.com/r4/StructureDefinition/priority", "valueUnsignedInt": n}


def _schedule_ext(system: str, code: str) -> dict[str, Any]:
    return {
        "url": "https://fhir-ehr.cerner.com/r4/StructureDefinition/bill-code-schedule",
        "valueCoding": {"system": system, "code": code},
    }


# What a clinician calls the resources and elements a validation error can name (never the library's text).
RESOURCE_WORDS = {
    "DocumentReference": "the note",
    "ChargeItem": "the charge",
    "Provenance": "the signature record",
    "Parameters": "the charge",
}
ELEMENT_WORDS = {
    "period": "the session's start or end time",
    "occurrenceDateTime": "the service date and time",
    "date": "the signing time",
    "recorded": "the signing time",
    "enteredDate": "the signing time",
    "creation": "the signing time",
    "subject": "the patient",
    "encounter": "the encounter",
    "context": "the encounter",
    "quantity": "the units",
    "code": "the service code",
    "reason": "the diagnoses",
    "data": "the note text",
    "contentType": "the note's format",
    "author": "the author",
    "performer": "the clinician",
    "enterer": "the clinician",
    "custodian": "the organization",
    "performingOrganization": "the organization",
}


class InvalidResource(ValueError):
    """A resource the app built does not validate: which one and which parts, in the clinician's words.

    ``str()`` is the plain message; ``elements`` keeps the element paths for the audit log and the outbox."""

    def __init__(self, resource_type: str, elements: Sequence[str]) -> None:
        words = list(dict.fromkeys(_element_words(e) for e in elements)) or ["a value"]
        what = RESOURCE_WORDS.get(resource_type, "the record")
        self.message = (
            f"{what[0].upper()}{what[1:]} could not be built for the EHR ({' and '.join(words[:3])} "
            "not in a form it accepts). Nothing was sent; check the time and date fields and sign again."
        )
        super().__init__(self.message)
        self.resource_type = resource_type
        self.elements = tuple(elements)


def _element_words(path: str) -> str:
    for part in reversed(path.split(".")):
        if part in ELEMENT_WORDS:
            return ELEMENT_WORDS[part]
    return "a value"


def validated(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Validate with the R4B model and return the canonical JSON; raise InvalidResource (plain words)."""
    try:
        result: dict[str, Any] = model.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        paths = [".".join(str(p) for p in err["loc"] if not isinstance(p, int)) for err in exc.errors()]
        raise InvalidResource(str(data.get("resourceType", "")), paths) from None
    return result


def _period(ctx: WriteContext) -> dict[str, str] | None:
    if ctx.start and ctx.end:
        return {"start": _dt(ctx.start), "end": _dt(ctx.end)}
    if ctx.service_date:
        day = ctx.service_date.isoformat()
        return {"start": day, "end": day}
    return None


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _dt(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
