"""The project's own FHIR URIs: identifier system, tags, meta.source and the charge billing-detail extension.

Why our own: R4 ChargeItem has no element for CPT/HCPCS modifiers or the place of service
(billing-rules §11.3), and no published US extension carries them. ``docs/writeback.md`` documents each URI
and how a biller maps the extension to a claim (Claim.item.modifier / CMS-1500 box 24D,
Claim.item.locationCodeableConcept / box 24B).
"""

from __future__ import annotations

CANONICAL_BASE = "https://smart-edu-billing.github.io/fhir"

# One identifier system for every resource the app writes (charges, notes); values are deterministic hashes.
IDENTIFIER_SYSTEM = f"{CANONICAL_BASE}/sid/write-id"

# meta.tag marking what this app wrote, and meta.source naming the app.
WRITTEN_BY_TAG_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/written-by"
WRITTEN_BY_TAG_CODE = "smart-edu-billing"
META_SOURCE = f"{CANONICAL_BASE}/app/smart-edu-billing"

# Provenance has no identifier element: its idempotency key travels as a meta.tag in this system instead.
PROVENANCE_KEY_TAG_SYSTEM = IDENTIFIER_SYSTEM

# Complex extension on ChargeItem: ordered sub-extensions "modifier" (valueCoding, CPT or HCPCS Level II) and
# one "place-of-service" (valueCoding, CMS Place of Service code set).
BILLING_DETAIL_URL = f"{CANONICAL_BASE}/StructureDefinition/charge-billing-detail"
BILLING_DETAIL_MODIFIER = "modifier"
BILLING_DETAIL_POS = "place-of-service"

# Code systems (billing-rules §11.1).
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
HCPCS_SYSTEM = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
POS_SYSTEM = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
LOINC_SYSTEM = "http://loinc.org"
NOTE_CATEGORY_SYSTEM = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
PARTICIPATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PROVENANCE_AGENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
US_CORE_DOCREF_PROFILE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference"


def modifier_system(modifier: str) -> str:
    """CPT modifiers are two digits (25, 59); HCPCS Level II modifiers contain a letter (GP, KX)."""
    return CPT_SYSTEM if modifier.isdigit() else HCPCS_SYSTEM
