"""Code-system normalisation: the spellings real EHRs send all land on one canonical URI."""

from __future__ import annotations

import pytest

from fhir_mappings import codes


@pytest.mark.parametrize(
    ("sent", "canonical"),
    [
        ("http://hl7.org/fhir/sid/icd-10-cm", codes.ICD10CM),
        ("HTTP://HL7.ORG/FHIR/SID/ICD-10-CM", codes.ICD10CM),
        ("http://hl7.org/fhir/sid/icd-10-cm/", codes.ICD10CM),
        ("https://hl7.org/fhir/sid/icd-10-cm", codes.ICD10CM),
        (" urn:oid:2.16.840.1.113883.6.90 ", codes.ICD10CM),
        ("urn:oid:2.16.840.1.113883.6.96", codes.SNOMED),
        ("http://snomed.info/sct/731000124108", codes.SNOMED),
        ("http://SNOMED.info/sct", codes.SNOMED),
        ("urn:oid:2.16.840.1.113883.6.12", codes.CPT),
        ("https://www.ama-assn.org/go/cpt", codes.CPT),
        ("http://ama-assn.org/go/cpt", codes.CPT),
        ("urn:oid:2.16.840.1.113883.6.285", codes.HCPCS),
        ("http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", codes.HCPCS),
        ("urn:oid:2.16.840.1.113883.6.1", codes.LOINC),
        ("urn:oid:2.16.840.1.113883.6.101", codes.NUCC),
        ("urn:oid:2.16.840.1.113883.3.221.5", codes.SOPT),
        ("http://www.nahdo.org/sopt", codes.SOPT),
        ("http://hl7.org/fhir/v3/ActCode", codes.V3_ACT_CODE),
        ("http://terminology.hl7.org/CodeSystem/v2-0360|2.7", codes.V2_0360),
        ("http://hl7.org/fhir/condition-category", codes.CONDITION_CATEGORY),
        (
            "https://www.cms.gov/medicare/coding/place-of-service-codes/place_of_service_code_set",
            codes.CMS_POS,
        ),
    ],
)
def test_normalise_system_folds_spellings(sent: str, canonical: str) -> None:
    assert codes.normalise_system(sent) == canonical


def test_who_icd10_and_icd10_pcs_are_not_icd10cm() -> None:
    assert codes.normalise_system("http://hl7.org/fhir/sid/icd-10") == codes.ICD10
    assert codes.normalise_system("urn:oid:2.16.840.1.113883.6.3") == codes.ICD10
    assert codes.normalise_system("http://www.cms.gov/Medicare/Coding/ICD10") == codes.ICD10PCS


def test_unknown_systems_come_back_trimmed_and_empty_ones_as_none() -> None:
    assert (
        codes.normalise_system("  https://ehr.example/CodeSystem/Local ")
        == "https://ehr.example/CodeSystem/Local"
    )
    assert codes.normalise_system("urn:oid:1.2.3") == "urn:oid:1.2.3"
    assert codes.normalise_system("") is None
    assert codes.normalise_system(None) is None


@pytest.mark.parametrize(
    ("sent", "normal"),
    [
        ("E11.9", "E11.9"),
        (" e11.9 ", "E11.9"),
        ("E119", "E11.9"),
        ("E 11 9", "E11.9"),
        ("m545", "M54.5"),
        ("E11", "E11"),
        ("S72.001A", "S72.001A"),
        ("S72001A", "S72.001A"),
        ("E1.19", "E11.9"),
    ],
)
def test_normalise_icd10cm(sent: str, normal: str) -> None:
    assert codes.normalise_icd10cm(sent) == normal
    assert codes.looks_like_icd10cm(normal)


def test_normalise_icd10cm_empty_and_shape() -> None:
    assert codes.normalise_icd10cm("  ") is None
    assert codes.normalise_icd10cm(None) is None
    assert not codes.looks_like_icd10cm("12345")


def test_normalise_code_strips_whitespace_only() -> None:
    assert codes.normalise_code(" 98960 ") == "98960"
    assert codes.normalise_code(98960) == "98960"
    assert codes.normalise_code("pay") == "pay"
    assert codes.normalise_code(True) is None
    assert codes.normalise_code("   ") is None
