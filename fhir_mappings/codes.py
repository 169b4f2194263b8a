"""Code-system URIs and small value sets used across the project, and the normalisers that make real EHR
data comparable (systems sent as OIDs, in lower case, with a trailing slash or a version; codes with stray
spaces).

Canonical URIs follow HL7 Terminology (THO) and US Core; the OIDs are the ones THO lists for each system.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Billing and clinical code systems.
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"  # WHO ICD-10: not ICD-10-CM, never billed in the US
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CMS_POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"

# Who and what pays.
NUCC = "http://nucc.org/provider-taxonomy"
NPI = "http://hl7.org/fhir/sid/us-npi"
SOPT = "https://nahdo.org/sopt"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
COVERAGE_SELFPAY = "http://terminology.hl7.org/CodeSystem/coverage-selfpay"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
V2_0360 = "http://terminology.hl7.org/CodeSystem/v2-0360"  # degree / licence / certificate
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier type

# Condition and document vocabularies.
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
US_CORE_CONDITION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
US_CORE_DOCREF_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"

# Value sets (codes only; the system is implied by the name).
CONDITION_CATEGORIES = frozenset({"encounter-diagnosis", "problem-list-item", "health-concern"})
CLINICAL_STATUS_ACTIVE = frozenset({"active", "recurrence", "relapse"})
CLINICAL_STATUS_INACTIVE = frozenset({"inactive", "remission", "resolved"})
VERIFICATION_EXCLUDED = frozenset({"entered-in-error", "refuted"})
ENCOUNTER_CLASSES = frozenset(
    {"AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR"}
)
DOCREF_CLINICAL_NOTE = "clinical-note"

_OIDS = {
    "2.16.840.1.113883.6.12": CPT,
    "2.16.840.1.113883.6.285": HCPCS,
    "2.16.840.1.113883.6.14": HCPCS,
    "2.16.840.1.113883.6.90": ICD10CM,
    "2.16.840.1.113883.6.3": ICD10,
    "2.16.840.1.113883.6.4": ICD10PCS,
    "2.16.840.1.113883.6.96": SNOMED,
    "2.16.840.1.113883.6.1": LOINC,
    "2.16.840.1.113883.6.101": NUCC,
    "2.16.840.1.113883.4.6": NPI,
    "2.16.840.1.113883.3.221.5": SOPT,
    "2.16.840.1.113883.5.4": V3_ACT_CODE,
}

# Other spellings seen in real payloads, keyed by _key(); the canonical URIs are added below.
_ALIASES = {
    "http://ama-assn.org/go/cpt": CPT,
    "http://www.cms.gov/medicare/coding/hcpcsreleasecodesets": HCPCS,
    "http://hl7.org/fhir/v3/actcode": V3_ACT_CODE,
    "http://hl7.org/fhir/v2/0360": V2_0360,
    "http://hl7.org/fhir/v2/0203": V2_0203,
    "http://hl7.org/fhir/condition-category": CONDITION_CATEGORY,
    "http://hl7.org/fhir/condition-clinical": CONDITION_CLINICAL,
    "http://hl7.org/fhir/condition-ver-status": CONDITION_VER_STATUS,
    "http://nahdo.org/sopt": SOPT,
}

_CANONICAL = (
    CPT, HCPCS, ICD10CM, ICD10, ICD10PCS, SNOMED, LOINC, CMS_POS, NUCC, NPI, SOPT, V3_ACT_CODE,
    COVERAGE_SELFPAY, COVERAGE_CLASS, V2_0360, V2_0203, CONDITION_CATEGORY, US_CORE_CONDITION_CATEGORY,
    CONDITION_CLINICAL, CONDITION_VER_STATUS, US_CORE_DOCREF_CATEGORY,
)  # fmt: skip


def _key(uri: str) -> str:
    """Comparison key: lower case, no version suffix, no trailing slash, http and www folded."""
    key = uri.strip().split("|", 1)[0].rstrip("/").lower()
    key = re.sub(r"^https?://(www\.)?", "http://", key)
    return key


_BY_KEY: dict[str, str] = {_key(uri): uri for uri in _CANONICAL}
_BY_KEY.update(_ALIASES)


def normalise_system(uri: str | None) -> str | None:
    """The canonical URI for a code system however it was spelled; unknown systems come back trimmed.

    ``urn:oid:`` forms, upper/lower case, ``http``/``https``, ``www.``, a trailing slash, a ``|version``
    suffix and SNOMED CT edition URIs (``http://snomed.info/sct/731000124108``) are all understood.
    """
    if not isinstance(uri, str) or not uri.strip():
        return None
    return _system(uri)


@lru_cache(maxsize=4096)
def _system(uri: str) -> str:
    """Memoised: a handful of systems recur in every resource of an export (the scrub's hot path)."""
    trimmed = uri.strip()
    lowered = trimmed.lower()
    if lowered.startswith("urn:oid:"):
        return _OIDS.get(lowered[len("urn:oid:") :], trimmed)
    if lowered in _OIDS:  # a bare OID
        return _OIDS[lowered]
    key = _key(trimmed)
    if key.startswith("http://snomed.info/sct/") or key.startswith("http://snomed.info/id"):
        return SNOMED
    return _BY_KEY.get(key, trimmed)


_ICD10CM_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def normalise_icd10cm(code: str | None) -> str | None:
    """ICD-10-CM in its dotted upper-case form: ``' e11 9 '`` -> ``E11.9``, ``M545`` -> ``M54.5``.

    The shape is not validated here (the engine says `dx.invalid`); an empty code gives None.
    """
    if not isinstance(code, str):
        return None
    return _icd10cm(code)


@lru_cache(maxsize=16384)
def _icd10cm(code: str) -> str | None:
    compact = re.sub(r"[\s.]", "", code).upper()
    if not compact:
        return None
    return f"{compact[:3]}.{compact[3:]}" if len(compact) > 3 else compact


def looks_like_icd10cm(code: str) -> bool:
    """True when a normalised code has the ICD-10-CM shape (letter, digit, alphanumeric, then up to 4)."""
    return bool(_ICD10CM_SHAPE.match(code))


def normalise_code(code: object) -> str | None:
    """A code with surrounding and inner stray whitespace removed (``' 98960 '`` -> ``98960``)."""
    if isinstance(code, bool) or not isinstance(code, (str, int)):
        return None
    return _code(str(code))


@lru_cache(maxsize=65536)
def _code(code: str) -> str | None:
    cleaned = re.sub(r"\s+", "", code)
    return cleaned or None
