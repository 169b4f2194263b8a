"""One mapper per clinical resource (Patient, Encounter, Condition, ServiceRequest, ChargeItem) -> domain.

Each takes the resource and the reference resolver and never raises; what it cannot tell stays None.
"""

from __future__ import annotations

from typing import Any

from billing_rules.model import Coding, Diagnosis, EncounterInfo, ExistingCharge, Order, PatientInfo
from fhir_mappings.codes import CPT, HCPCS, ICD10CM, SNOMED, normalise_icd10cm
from fhir_mappings.read_util import (
    References,
    Resource,
    as_list,
    as_map,
    codings,
    concept_text,
    first_code,
    human_name,
    identifiers,
    key_id,
    parse_date,
    text,
)


def patient_info(patient: Resource) -> PatientInfo:
    deceased: bool | None = None
    deceased_date = None
    if isinstance(patient.get("deceasedBoolean"), bool):
        deceased = patient["deceasedBoolean"]
    if text(patient.get("deceasedDateTime")):
        deceased, deceased_date = True, parse_date(patient.get("deceasedDateTime"))
    return PatientInfo(
        id=text(patient.get("id")),
        name=human_name(patient.get("name")),
        birth_date=parse_date(patient.get("birthDate")),
        gender=text(patient.get("gender")),
        deceased=deceased,
        deceased_date=deceased_date,
    )


def _encounter_class(value: Any) -> str | None:
    found = codings(value)  # R4: a Coding; R5 and some EHRs: a list of CodeableConcepts
    return found[0].code.upper() if found else None


def encounter_info(encounter: Resource, refs: References) -> EncounterInfo:
    period = as_map(encounter.get("period"))
    participants = []
    for p in as_list(encounter.get("participant")):
        key = refs.key(as_map(p).get("individual") or as_map(p).get("actor"))
        if key:
            participants.append(key)
    provider = as_map(encounter.get("serviceProvider"))
    return EncounterInfo(
        id=text(encounter.get("id")),
        status=text(encounter.get("status")),
        start=text(period.get("start")),
        end=text(period.get("end")),
        encounter_class=_encounter_class(encounter.get("class")),
        type_text=concept_text(encounter.get("type")),
        participant_ids=tuple(dict.fromkeys(participants)),
        service_provider=refs.key(provider) or text(provider.get("display")),
    )


def diagnosis(condition: Resource, refs: References) -> Diagnosis:
    found = codings(condition.get("code"))
    icd10 = [n for c in found if c.system == ICD10CM and (n := normalise_icd10cm(c.code))]
    snomed = [c.code for c in found if c.system == SNOMED]
    other = tuple(Coding(c.system, c.code, c.display) for c in found if c.system not in (ICD10CM, SNOMED))
    categories = [c.code for c in codings(condition.get("category"))]
    return Diagnosis(
        id=text(condition.get("id")),
        icd10=tuple(dict.fromkeys(icd10)),
        snomed=tuple(dict.fromkeys(snomed)),
        display=concept_text(condition.get("code")),
        category=tuple(dict.fromkeys(categories)),
        clinical_status=first_code(condition.get("clinicalStatus")),
        verification_status=first_code(condition.get("verificationStatus")),
        encounter_id=key_id(refs.key(condition.get("encounter")), "Encounter"),
        other_codings=other,
    )


def order(request: Resource, refs: References, requester_role: Any = None) -> Order:
    return Order(
        id=text(request.get("id")),
        codes=tuple(codings(request.get("code"))),
        text=concept_text(request.get("code")),
        status=text(request.get("status")),
        intent=text(request.get("intent")),
        authored_on=parse_date(request.get("authoredOn")),
        requester=refs.key(request.get("requester")) or text(as_map(request.get("requester")).get("display")),
        requester_role=requester_role,
    )


def _occurrence(charge: Resource) -> Any:
    if charge.get("occurrenceDateTime"):
        return charge.get("occurrenceDateTime")
    if charge.get("occurrencePeriod"):
        return as_map(charge.get("occurrencePeriod")).get("start")
    events = as_list(as_map(charge.get("occurrenceTiming")).get("event"))
    return events[0] if events else None


def billing_code(concept: Any) -> str | None:
    """The CPT (else HCPCS) code of a CodeableConcept; EHR-proprietary bill codes do not count."""
    return billing_code_of(codings(concept))


def billing_code_of(found: list[Coding]) -> str | None:
    for system in (CPT, HCPCS):
        for c in found:
            if c.system == system:
                return c.code.upper()
    return None


def existing_charge(charge: Resource, refs: References, found: list[Coding] | None = None) -> ExistingCharge:
    """``found``: the codings of ``charge.code`` when the caller has them already."""
    return ExistingCharge(
        id=text(charge.get("id")),
        code=billing_code_of(codings(charge.get("code")) if found is None else found),
        service_date=parse_date(_occurrence(charge)),
        status=text(charge.get("status")),
        identifiers=identifiers(charge),
        encounter_id=key_id(refs.key(charge.get("context")), "Encounter"),
    )
