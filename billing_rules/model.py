"""Domain objects of the rules engine (rules-contract §1, DESIGN.md §4).

Plain, frozen-where-possible dataclasses: the engine takes them and returns them, nothing here does I/O.
"Unknown stays unknown": optional facts are ``None`` (or the literal ``"unknown"`` for enumerations), never a
guessed default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

Severity = Literal["block", "warn", "info"]
Mode = Literal["in-person", "video", "audio-only"]
Location = Literal["office", "home", "outpatient-hospital", "other"]

PAYER_CLASSES = ("medicare", "medicare-advantage", "medicaid", "commercial", "self-pay", "unknown")
PayerClass = Literal["medicare", "medicare-advantage", "medicaid", "commercial", "self-pay", "unknown"]

PROVIDER_ROLES = (
    "PT",
    "PTA",
    "OT",
    "OTA",
    "RN",
    "RD",
    "CDCES",
    "CHW",
    "MD",
    "DO",
    "NP",
    "PA",
    "other",
    "unknown",
)
ProviderRole = Literal[
    "PT", "PTA", "OT", "OTA", "RN", "RD", "CDCES", "CHW", "MD", "DO", "NP", "PA", "other", "unknown"
]

SEVERITY_ORDER: dict[str, int] = {"block": 0, "warn": 1, "info": 2}


# ----------------------------------------------------------------------------------------------------
# What the clinician documents
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationComponents:
    """The four components that set a PT evaluation's level (97161-97163)."""

    personal_factors: int | None = None
    body_systems: int | None = None
    presentation: Literal["stable", "evolving", "unstable"] | None = None
    decision_complexity: Literal["low", "moderate", "high"] | None = None


@dataclass(frozen=True)
class RtmData:
    """Remote therapeutic monitoring facts for the device-supply period and the calendar month."""

    days_of_data: int | None = None
    management_minutes: int | None = None
    interactive_communication: bool | None = None
    rpm_same_month: bool | None = None
    setup_billed: bool | None = None  # 98975 already billed in this episode of care


@dataclass(frozen=True)
class ServiceRecord:
    """One documented service, as in rules-contract §1 (also the JSON of ``smart-edu check --service``)."""

    code: str
    service_date: date | None = None
    minutes: int | None = None
    mode: Mode = "in-person"
    location: Location = "office"
    patients_in_group: int = 1
    patient_present: bool = True
    caregiver_present: bool | None = None
    curriculum: str | None = None
    topics: tuple[str, ...] = ()
    adaptations: str | None = None
    response: str | None = None
    diagnoses: tuple[str, ...] = ()
    other_timed_minutes: dict[str, int] = field(default_factory=dict)
    assistant_minutes: int | None = None
    evaluation: EvaluationComponents | None = None
    rtm: RtmData | None = None
    consent_documented: bool | None = None
    plan_of_care_certified: bool | None = None
    therapy_ytd_allowed: float | None = None
    payer_class: PayerClass | None = None
    provider_role: ProviderRole | None = None
    # What the note needs beyond the billing facts (fhir_mappings.note); absent = not given, never billed on.
    interventions: str | None = None  # therapy: what was done (exercises, sets, techniques)
    skilled_rationale: str | None = None  # therapy: why it needed a therapist's skill
    assessment: str | None = None
    plan: str | None = None
    learning_needs: str | None = None  # education
    barriers: str | None = None  # barriers to learning (vision, literacy, language, ...)
    teach_back: str | None = None
    caregiver: str | None = None  # who: "daughter"
    interpreter: str | None = None  # who and how: "daughter, Spanish", "phone interpreter, Vietnamese"
    # Issue 12: DSMT/MNT benefit facts and Medicare plan-of-care timing (rules-contract §1, added fields).
    accredited_program: bool | None = None
    benefit_year: Literal["first", "subsequent"] | None = None
    benefit_hours_used: float | None = None
    treatment_days_since_progress_report: int | None = None
    plan_of_care_start: date | None = None
    plan_of_care_changed: bool | None = None


# ----------------------------------------------------------------------------------------------------
# What the EHR knows (fhir_mappings.read builds it)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientInfo:
    id: str | None = None
    name: str | None = None
    birth_date: date | None = None
    gender: str | None = None
    deceased: bool | None = None
    deceased_date: date | None = None


@dataclass(frozen=True)
class EncounterInfo:
    id: str | None = None
    status: str | None = None
    start: str | None = None  # ISO date or dateTime as sent
    end: str | None = None
    encounter_class: str | None = None  # v3 ActCode: AMB, VR, HH, ...
    type_text: str | None = None
    participant_ids: tuple[str, ...] = ()
    service_provider: str | None = None

    @property
    def service_date(self) -> date | None:
        if not self.start:
            return None
        try:
            return date.fromisoformat(self.start[:10])
        except ValueError:
            return None


@dataclass(frozen=True)
class Coding:
    system: str | None
    code: str
    display: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """A Condition as the engine needs it: its ICD-10-CM codes (if any) and where it came from."""

    id: str | None
    icd10: tuple[str, ...] = ()  # normalised ICD-10-CM codes (upper case, dotted)
    snomed: tuple[str, ...] = ()
    display: str | None = None
    category: tuple[str, ...] = ()  # encounter-diagnosis, problem-list-item, health-concern
    clinical_status: str | None = None  # active, resolved, ...
    verification_status: str | None = None
    encounter_id: str | None = None
    other_codings: tuple[Coding, ...] = ()

    @property
    def needs_icd10(self) -> bool:
        return not self.icd10


@dataclass(frozen=True)
class Payer:
    payer_class: PayerClass = "unknown"
    name: str | None = None
    coverage_id: str | None = None
    basis: str | None = None  # what decided the class (SOPT code, payor name, ...)


@dataclass(frozen=True)
class Provider:
    role: ProviderRole = "unknown"
    name: str | None = None
    reference: str | None = None  # Practitioner/123 (fhirUser)
    npi: str | None = None
    taxonomy: tuple[str, ...] = ()


@dataclass(frozen=True)
class Order:
    """A ServiceRequest: an order/prescription for the service."""

    id: str | None
    codes: tuple[Coding, ...] = ()
    text: str | None = None
    status: str | None = None
    intent: str | None = None
    authored_on: date | None = None
    requester: str | None = None  # reference
    requester_role: ProviderRole | None = None


@dataclass(frozen=True)
class ExistingCharge:
    """A ChargeItem already on the server for this patient/encounter."""

    id: str | None
    code: str | None
    service_date: date | None = None
    status: str | None = None
    identifiers: tuple[str, ...] = ()  # "system|value"
    encounter_id: str | None = None


@dataclass(frozen=True)
class CarePlanInfo:
    """A CarePlan the EHR holds (a therapy plan of care): its period tells certification timing."""

    id: str | None
    status: str | None = None
    intent: str | None = None
    start: date | None = None
    end: date | None = None
    title: str | None = None


@dataclass(frozen=True)
class ClinicalContext:
    patient: PatientInfo = field(default_factory=PatientInfo)
    encounter: EncounterInfo = field(default_factory=EncounterInfo)
    conditions: tuple[Diagnosis, ...] = ()
    payer: Payer = field(default_factory=Payer)
    provider: Provider = field(default_factory=Provider)
    orders: tuple[Order, ...] = ()
    existing_charges: tuple[ExistingCharge, ...] = ()
    read_notes: tuple[str, ...] = ()  # what the reader could not tell, in plain words
    # Identifiers of this service's own charge (retry detection, rules-contract `duplicate.charge`).
    own_identifiers: tuple[str, ...] = ()
    care_plans: tuple[CarePlanInfo, ...] = ()  # read where the EHR has them (plan-of-care timing)


# ----------------------------------------------------------------------------------------------------
# What the engine says
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    prompt: str
    field: str
    source: str
    # Public pages behind ``source`` (rule data ``source_urls``); a pure product decision has none.
    source_urls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # by hand, not asdict(): asdict deep-copies field by field, and the scrub makes thousands of these
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "prompt": self.prompt,
            "field": self.field,
            "source": self.source,
            "source_urls": list(self.source_urls),
        }


@dataclass(frozen=True)
class ChargeLine:
    code: str
    units: int
    modifiers: tuple[str, ...] = ()
    place_of_service: str | None = None
    diagnoses: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "units": self.units,
            "modifiers": list(self.modifiers),
            "place_of_service": self.place_of_service,
            "diagnoses": list(self.diagnoses),
        }


@dataclass(frozen=True)
class Estimate:
    payer_class: str
    low: float
    high: float
    currency: str = "USD"
    basis: str = ""
    # Public pages behind the ranges named in ``basis`` (rule data ``source_urls``).
    basis_urls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "basis_urls": list(self.basis_urls)}


@dataclass(frozen=True)
class Evaluation:
    billable: bool
    charge_lines: tuple[ChargeLine, ...]
    findings: tuple[Finding, ...]
    estimate: Estimate | None
    rules_version: str

    @property
    def blocked(self) -> bool:
        return any(f.severity == "block" for f in self.findings)

    def findings_by_severity(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {"block": [], "warn": [], "info": []}
        for f in self.findings:
            out[f.severity].append(f)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "billable": self.billable,
            "charge_lines": [c.to_dict() for c in self.charge_lines],
            "findings": [f.to_dict() for f in self.findings],
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "rules_version": self.rules_version,
        }
