"""One patient's export, mapped once: every Condition, Coverage, order, encounter, note and charge is turned
into the engine's terms a single time and reused for all of that patient's charges (the fast path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from billing_rules.model import (
    Diagnosis,
    EncounterInfo,
    ExistingCharge,
    Order,
    PatientInfo,
    Payer,
    Provider,
)
from fhir_mappings import extensions as ext
from fhir_mappings.codes import ICD10CM, VERIFICATION_EXCLUDED, normalise_icd10cm
from fhir_mappings.read_clinical import (
    diagnosis,
    encounter_info,
    existing_charge,
    order,
    patient_info,
)
from fhir_mappings.read_payer import payer_class_from_coverage
from fhir_mappings.read_provider import provider_and_notes
from fhir_mappings.read_util import References, as_list, as_map, codings, key_from_url, parse_date, text
from smart_app.scrub.notes import NoteFacts, parse_note

Resource = dict[str, Any]
_REFS = References(())  # exports carry relative or absolute references, never bundle-local fullUrls
VOID = frozenset({"entered-in-error", "aborted"})


@dataclass(frozen=True)
class Charge:
    """A ChargeItem as billed."""

    id: str
    code: str | None
    found_codes: str  # what the charge did carry, for a finding when no CPT/HCPCS code is there
    status: str | None
    occurrence: date | None
    units: int | None
    modifiers: tuple[str, ...] | None  # None: the charge does not carry the project's extension
    pos: str | None
    performer: str | None  # Practitioner/x or PractitionerRole/x
    diagnoses: tuple[str, ...]
    encounter_id: str | None
    supporting: tuple[str, ...]
    existing: ExistingCharge


@dataclass
class PatientData:
    patient: PatientInfo
    conditions: tuple[Diagnosis, ...] = ()
    coverages: list[Resource] = field(default_factory=list)
    orders: tuple[Order, ...] = ()
    encounters: dict[str, EncounterInfo] = field(default_factory=dict)
    notes: dict[str, NoteFacts] = field(default_factory=dict)
    charges: list[Charge] = field(default_factory=list)
    payers: dict[date, Payer] = field(default_factory=dict)  # memo of payer_on
    classified: dict[int, Payer] = field(default_factory=dict)  # memo: Coverage (held in coverages) -> Payer

    def note_for(self, charge: Charge) -> NoteFacts | None:
        """The app's note the charge links to (supportingInformation), else its encounter's app note."""
        for key in charge.supporting:
            if key in self.notes:
                return self.notes[key]
        if charge.encounter_id:
            same = [n for n in self.notes.values() if n.encounter_id == charge.encounter_id]
            with_code = [n for n in same if charge.code in n.codes]
            chosen = with_code or same
            if chosen:
                return min(chosen, key=lambda n: n.key)
        return None


def _quantity(charge: Resource) -> int | None:
    value = as_map(charge.get("quantity")).get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def _billing_detail(charge: Resource) -> tuple[tuple[str, ...] | None, str | None]:
    for extension in as_list(charge.get("extension")):
        item = as_map(extension)
        if item.get("url") != ext.BILLING_DETAIL_URL:
            continue
        modifiers, pos = [], None
        for sub in as_list(item.get("extension")):
            sub = as_map(sub)
            url = sub.get("url")
            if url != ext.BILLING_DETAIL_MODIFIER and url != ext.BILLING_DETAIL_POS:
                continue
            code = text(as_map(sub.get("valueCoding")).get("code"))
            if not code:
                continue
            if url == ext.BILLING_DETAIL_MODIFIER:
                modifiers.append(code.upper())
            else:
                pos = code
        return tuple(modifiers), pos
    return None, None


def _performer(charge: Resource) -> str | None:
    for performer in as_list(charge.get("performer")):
        key = _REFS.key(as_map(performer).get("actor"))
        if key and key.startswith(("Practitioner/", "PractitionerRole/")):
            return key
    key = _REFS.key(charge.get("enterer"))
    return key if key and key.startswith(("Practitioner/", "PractitionerRole/")) else None


def _reasons(charge: Resource) -> tuple[str, ...]:
    found = [diag for concept in as_list(charge.get("reason")) for diag in _icd10(concept)]
    return tuple(dict.fromkeys(found))


def _icd10(concept: Any) -> list[str]:
    return [n for c in codings(concept) if c.system == ICD10CM and (n := normalise_icd10cm(c.code))]


def map_charge(resource: Resource) -> Charge:
    found = codings(resource.get("code"))
    existing = existing_charge(resource, _REFS, found)
    modifiers, pos = _billing_detail(resource)
    supporting = tuple(k for ref in as_list(resource.get("supportingInformation")) if (k := _REFS.key(ref)))
    shown = [c.code for c in found]
    return Charge(
        id=existing.id or "",
        code=existing.code,
        found_codes=", ".join(shown) or "no code",
        status=existing.status,
        occurrence=existing.service_date,
        units=_quantity(resource),
        modifiers=modifiers,
        pos=pos,
        performer=_performer(resource),
        diagnoses=_reasons(resource),
        encounter_id=existing.encounter_id,
        supporting=supporting,
        existing=existing,
    )


def map_patient(patient_id: str, resources: list[Resource]) -> PatientData:
    """Everything the scrub needs of one patient, each resource mapped once."""
    data = PatientData(patient=PatientInfo(id=patient_id))
    conditions, orders = [], []
    for resource in resources:
        rtype = resource["resourceType"]
        if rtype == "ChargeItem":
            data.charges.append(map_charge(resource))
        elif rtype == "Condition":
            dx = diagnosis(resource, _REFS)
            if (
                dx.verification_status not in VERIFICATION_EXCLUDED
                and dx.clinical_status != "entered-in-error"
            ):
                conditions.append(dx)
        elif rtype == "Encounter":
            info = encounter_info(resource, _REFS)
            if info.id:
                data.encounters[info.id] = info
        elif rtype == "Coverage":
            data.coverages.append(resource)
        elif rtype == "ServiceRequest":
            orders.append(resource)
        elif rtype == "DocumentReference":
            facts = parse_note(resource)
            if facts is not None:
                data.notes[facts.key] = facts
        elif rtype == "Patient":
            data.patient = patient_info(resource)
    data.conditions = tuple(sorted(conditions, key=lambda d: d.id or ""))
    data.orders = tuple(order(r, _REFS) for r in sorted(orders, key=lambda r: str(r.get("id"))))
    data.coverages.sort(key=lambda c: str(c.get("id")))
    data.charges.sort(key=lambda c: (c.occurrence or date.max, c.id))
    return data


def payer_on(data: PatientData, on: date, shared: dict[str, Resource]) -> Payer:
    """The primary active Coverage on the date (lowest ``order``), classified (once per patient and day)."""
    found = data.payers.get(on)
    if found is None:
        found = data.payers[on] = _payer_on(data, on, shared)
    return found


def _payer_on(data: PatientData, on: date, shared: dict[str, Resource]) -> Payer:
    current = []
    for coverage in data.coverages:
        if text(coverage.get("status")) not in (None, "active"):
            continue
        period = as_map(coverage.get("period"))
        start, end = parse_date(period.get("start")), parse_date(period.get("end"))
        if (end and end < on) or (start and start > on):
            continue
        current.append(coverage)
    if not current:
        return Payer(basis="no active coverage in the export on the service date")
    primary = min(current, key=_coverage_order)
    key = id(primary)  # the same Coverage decides the same class on every day it is primary
    found = data.classified.get(key)
    if found is None:
        org_key = _REFS.key(next(iter(as_list(primary.get("payor"))), None))
        found = data.classified[key] = payer_class_from_coverage(primary, shared.get(org_key or ""))
    return found


def _coverage_order(coverage: Resource) -> tuple[int, str]:
    value = coverage.get("order")
    rank = value if isinstance(value, int) and not isinstance(value, bool) else 10**9
    return rank, str(coverage.get("id"))


def provider_of(reference: str | None, shared: dict[str, Resource]) -> Provider:
    """The clinician of a charge from the export's Practitioner and PractitionerRole resources (memoised)."""
    return _provider(reference, _SharedView(shared))


class _SharedView:
    """Hashable by identity so one process memoises providers over one export's shared resources."""

    def __init__(self, shared: dict[str, Resource]) -> None:
        self.shared = shared

    def __hash__(self) -> int:
        return id(self.shared)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SharedView) and other.shared is self.shared


@lru_cache(maxsize=4096)
def _provider(reference: str | None, view: _SharedView) -> Provider:
    shared = view.shared
    if not reference:
        return Provider()
    key = key_from_url(reference) or reference
    found = shared.get(key)
    if found is None:
        return Provider(reference=key)
    if found["resourceType"] == "PractitionerRole":
        practitioner = shared.get(_REFS.key(found.get("practitioner")) or "")
        return provider_and_notes(practitioner, [found])[0]
    roles = [
        r
        for k, r in shared.items()
        if k.startswith("PractitionerRole/")
        and _REFS.key(r.get("practitioner")) == key
        and r.get("active") is not False
    ]
    return provider_and_notes(found, sorted(roles, key=lambda r: str(r.get("id"))))[0]
