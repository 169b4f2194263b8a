"""FHIR R4 JSON -> ``ClinicalContext`` (rules-contract §1): tolerant reads that never raise.

The app reads a launch with one batch of GETs and hands the batch-response here; ``smart-edu check`` hands a
Bundle file. Resources of every type may be mixed in; what is not needed is ignored, and everything the reader
could not tell is said in ``ClinicalContext.read_notes`` in plain words (never with patient identifiers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from billing_rules.model import (
    CarePlanInfo,
    ClinicalContext,
    EncounterInfo,
    Order,
    PatientInfo,
    Payer,
    Provider,
)
from fhir_mappings.codes import VERIFICATION_EXCLUDED
from fhir_mappings.read_clinical import diagnosis, encounter_info, existing_charge, order, patient_info
from fhir_mappings.read_payer import payer_class_from_coverage
from fhir_mappings.read_provider import provider_and_notes, provider_from_resources
from fhir_mappings.read_util import (
    References,
    Resource,
    as_list,
    as_map,
    key_from_url,
    parse_date,
    resource_key,
    text,
)

__all__ = [
    "context_from_bundle",
    "context_from_resources",
    "payer_class_from_coverage",
    "provider_from_resources",
    "resources_from_bundle",
]

Entry = tuple[Resource, str | None]
_MAX_DEPTH = 4


def _flatten(bundle: Mapping[str, Any], notes: list[str], depth: int = 0) -> list[Entry]:
    """Entries of a Bundle, nested searchset Bundles (batch-response) flattened; failed reads noted."""
    out: list[Entry] = []
    for raw in as_list(bundle.get("entry")):
        entry = as_map(raw)
        resource, status = as_map(entry.get("resource")), text(as_map(entry.get("response")).get("status"))
        if status and not status.startswith("2"):
            notes.append(f"One read of the EHR failed ({status}); its data are missing.")
            continue
        rtype = resource.get("resourceType")
        if rtype == "Bundle" and depth < _MAX_DEPTH:
            if any(as_map(link).get("relation") == "next" for link in as_list(resource.get("link"))):
                notes.append("A search had more pages than were read; some data may be missing.")
            out.extend(_flatten(resource, notes, depth + 1))
        elif rtype == "OperationOutcome":
            if any(as_map(i).get("severity") in ("error", "fatal") for i in as_list(resource.get("issue"))):
                notes.append("The EHR reported an error for one of the reads; its data may be missing.")
        elif isinstance(rtype, str):
            out.append((resource, text(entry.get("fullUrl"))))
    return out


def _entries(source: Any, notes: list[str]) -> list[Entry]:
    if not isinstance(source, Mapping):
        notes.append("The input is not a FHIR resource or Bundle.")
        return []
    if source.get("resourceType") == "Bundle":
        return _flatten(source, notes)
    if isinstance(source.get("resourceType"), str):
        return [(source, None)]
    notes.append("The input is not a FHIR resource or Bundle.")
    return []


def resources_from_bundle(bundle: Mapping[str, Any]) -> list[Resource]:
    """Every resource in a Bundle (nested batch-response searchsets flattened)."""
    return [r for r, _ in _entries(bundle, [])]


def _dedupe(entries: list[Entry]) -> list[Entry]:
    seen: set[str] = set()
    out = []
    for resource, full_url in entries:
        key = resource_key(resource)
        if key is None or key not in seen:
            out.append((resource, full_url))
            if key:
                seen.add(key)
    return out


class _Reader:
    """One read: the resources by type, the reference resolver and the notes being collected."""

    def __init__(self, entries: list[Entry], notes: list[str]) -> None:
        entries = _dedupe(entries)
        self.refs = References(entries)
        self.notes = notes
        self.by_type: dict[str, list[Resource]] = {}
        for resource, _ in entries:
            self.by_type.setdefault(str(resource.get("resourceType")), []).append(resource)
        self.patient_key: str | None = None

    def of_type(self, rtype: str, subject_keys: tuple[str, ...] = ("subject", "patient")) -> list[Resource]:
        """Resources of a type that belong to the chosen patient (or that name no patient)."""
        out = []
        for resource in self.by_type.get(rtype, []):
            owner = next((resource.get(k) for k in subject_keys if resource.get(k)), None)
            owner_key = self.refs.key(owner)
            if self.patient_key is None or owner_key is None or owner_key == self.patient_key:
                out.append(resource)
        return out

    def find(self, key: str | None) -> Resource | None:
        if not key or "/" not in key:
            return None
        rtype, rid = key.split("/", 1)
        return next((r for r in self.by_type.get(rtype, []) if text(r.get("id")) == rid), None)

    def patient(self, patient_id: str | None) -> PatientInfo:
        patients = self.by_type.get("Patient", [])
        chosen = next((p for p in patients if text(p.get("id")) == patient_id), None) if patient_id else None
        if patient_id and chosen is None:
            self.notes.append("The patient in context was not among the data read.")
            self.patient_key = f"Patient/{patient_id}"
            return PatientInfo(id=patient_id)
        if chosen is None and patients:
            chosen = patients[0]
            if len(patients) > 1:
                self.notes.append(f"{len(patients)} patients in the data; used the first one.")
        if chosen is None:
            self.notes.append("No Patient in the data read.")
            return PatientInfo(id=patient_id)
        self.patient_key = resource_key(chosen)
        info = patient_info(chosen)
        if info.birth_date is None:
            self.notes.append("The patient's birth date is missing or incomplete.")
        return info

    def encounter(self, encounter_id: str | None) -> EncounterInfo:
        encounters = self.of_type("Encounter")
        if encounter_id:
            chosen = next((e for e in encounters if text(e.get("id")) == encounter_id), None)
            if chosen is None:
                self.notes.append("The encounter in context was not among the data read.")
                return EncounterInfo(id=encounter_id)
        elif not encounters:
            self.notes.append("No Encounter in the data read: the service date must be given.")
            return EncounterInfo()
        else:
            chosen = max(encounters, key=lambda e: text(as_map(e.get("period")).get("start")) or "")
            if len(encounters) > 1:
                self.notes.append(f"{len(encounters)} encounters in the data; used the most recent one.")
        return encounter_info(chosen, self.refs)

    def conditions(self) -> tuple[Any, ...]:
        kept, skipped = [], 0
        for resource in self.of_type("Condition"):
            dx = diagnosis(resource, self.refs)
            if dx.verification_status in VERIFICATION_EXCLUDED or dx.clinical_status == "entered-in-error":
                skipped += 1
                continue
            kept.append(dx)
        if skipped:
            self.notes.append(f"{skipped} condition(s) marked refuted or entered in error were left out.")
        # Said only when no condition carries an ICD-10-CM code (then one must be chosen for the claim); a
        # chart with coded and uncoded conditions side by side is normal and the linked codes are checked.
        if kept and all(dx.needs_icd10 for dx in kept):
            self.notes.append(
                f"None of the {len(kept)} condition(s) has an ICD-10-CM code (SNOMED CT or none): "
                "an ICD-10-CM diagnosis must be chosen for the claim."
            )
        if not kept:
            self.notes.append("No diagnoses (Condition) in the data read.")
        return tuple(kept)

    def payer(self, service_date: date | None) -> Payer:
        coverages = [
            c for c in self.of_type("Coverage", ("beneficiary",)) if self._coverage_current(c, service_date)
        ]
        if not coverages:
            self.notes.append("No active Coverage in the data read: the payer is unknown.")
            return Payer(basis="no active coverage was read")
        ranked = sorted(coverages, key=_coverage_order)
        if len(ranked) > 1:
            how = (
                "the lowest 'order'"
                if _coverage_order(ranked[0]) < 10**9
                else "the first listed (no 'order')"
            )
            self.notes.append(f"{len(ranked)} active coverages; used {how} as primary.")
        primary = ranked[0]
        org = self.find(self.refs.key(next(iter(as_list(primary.get("payor"))), None)))
        payer = payer_class_from_coverage(primary, org)
        if payer.payer_class == "unknown":
            self.notes.append(f"The payer class could not be told: {payer.basis}.")
        return payer

    def _coverage_current(self, coverage: Resource, service_date: date | None) -> bool:
        status = text(coverage.get("status"))
        if status not in (None, "active"):
            return False
        period = as_map(coverage.get("period"))
        start, end = parse_date(period.get("start")), parse_date(period.get("end"))
        if service_date and ((end and end < service_date) or (start and start > service_date)):
            self.notes.append("A coverage outside its period on the encounter date was left out.")
            return False
        return True

    def provider(self, practitioner_ref: str | None) -> Provider:
        if not practitioner_ref:
            self.notes.append("No clinician was named (fhirUser): the provider role is unknown.")
            return Provider()
        key = key_from_url(practitioner_ref.strip())
        found = self.find(key)
        if found is None:
            self.notes.append("The clinician's Practitioner record was not among the data read.")
            return Provider(reference=key or practitioner_ref)
        provider, notes = self._provider_of(found)
        self.notes.extend(notes)
        return provider

    def _provider_of(self, resource: Resource) -> tuple[Provider, list[str]]:
        """Provider for a Practitioner (with its active roles) or for one PractitionerRole."""
        if resource.get("resourceType") == "PractitionerRole":
            return provider_and_notes(self.find(self.refs.key(resource.get("practitioner"))), [resource])
        key = resource_key(resource)
        roles = [
            r
            for r in self.by_type.get("PractitionerRole", [])
            if self.refs.key(r.get("practitioner")) == key and r.get("active") is not False
        ]
        return provider_and_notes(resource, roles)

    def orders(self) -> tuple[Order, ...]:
        out = []
        for request in self.of_type("ServiceRequest"):
            key = self.refs.key(request.get("requester")) or ""
            requester = self.find(key) if key.startswith(("Practitioner/", "PractitionerRole/")) else None
            role = self._provider_of(requester)[0].role if requester is not None else None
            out.append(order(request, self.refs, role))
        return tuple(out)

    def care_plans(self) -> tuple[CarePlanInfo, ...]:
        """CarePlans of the patient (any kind: the engine picks one in force on the service date)."""
        out = []
        for plan in self.of_type("CarePlan"):
            period = as_map(plan.get("period"))
            out.append(
                CarePlanInfo(
                    id=text(plan.get("id")),
                    status=text(plan.get("status")),
                    intent=text(plan.get("intent")),
                    start=_day(period.get("start")),
                    end=_day(period.get("end")),
                    title=text(plan.get("title")),
                )
            )
        return tuple(out)

    def charges(self) -> tuple[Any, ...]:
        charges = tuple(existing_charge(c, self.refs) for c in self.of_type("ChargeItem"))
        uncoded = sum(1 for c in charges if c.code is None)
        if uncoded:
            self.notes.append(
                f"{uncoded} existing charge(s) carry no CPT/HCPCS code (EHR bill codes only): "
                "duplicates among them cannot be checked."
            )
        return charges


def _coverage_order(coverage: Resource) -> int:
    value = coverage.get("order")
    return value if isinstance(value, int) and not isinstance(value, bool) else 10**9


def _build(entries: list[Entry], notes: list[str], **kwargs: Any) -> ClinicalContext:
    reader = _Reader(entries, notes)
    patient = reader.patient(kwargs.get("patient_id"))
    encounter = reader.encounter(kwargs.get("encounter_id"))
    return ClinicalContext(
        patient=patient,
        encounter=encounter,
        conditions=reader.conditions(),
        payer=reader.payer(encounter.service_date),
        provider=reader.provider(kwargs.get("practitioner_ref")),
        orders=reader.orders(),
        existing_charges=reader.charges(),
        read_notes=tuple(dict.fromkeys(notes)),
        care_plans=reader.care_plans(),
    )


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def context_from_resources(
    resources: Iterable[Mapping[str, Any]],
    *,
    patient_id: str | None = None,
    encounter_id: str | None = None,
    practitioner_ref: str | None = None,
) -> ClinicalContext:
    """Context from resources of any types, mixed (Bundles among them are flattened)."""
    notes: list[str] = []
    entries: list[Entry] = []
    for item in resources if isinstance(resources, Iterable) else []:
        entries.extend(_entries(item, notes))
    return _build(
        entries, notes, patient_id=patient_id, encounter_id=encounter_id, practitioner_ref=practitioner_ref
    )


def context_from_bundle(
    bundle: Mapping[str, Any],
    *,
    patient_id: str | None = None,
    encounter_id: str | None = None,
    practitioner_ref: str | None = None,
) -> ClinicalContext:
    """Context from a searchset, transaction, batch-response or collection Bundle."""
    notes: list[str] = []
    entries = _entries(bundle, notes)
    return _build(
        entries, notes, patient_id=patient_id, encounter_id=encounter_id, practitioner_ref=practitioner_ref
    )
