"""Provider role from NUCC taxonomy (PractitionerRole, qualification) and v2-0360 degrees."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappings.codes import NUCC, V2_0360
from fhir_mappings.read import context_from_resources, provider_from_resources
from fhir_mappings.read_provider import role_from_taxonomy
from tests.conftest import load_json


def practitioner(*quals: tuple[str | None, str], pid: str = "pr1", text: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": pid,
        "name": [{"given": ["Pat"], "family": "Lee"}],
    }
    res["qualification"] = [{"code": {"coding": [{"system": s, "code": c}]}} for s, c in quals]
    if text:
        res["qualification"].append({"code": {"text": text}})
    return res


def role(
    *taxonomies: str, pid: str = "pr1", rid: str = "r1", field: str = "code", **extra: Any
) -> dict[str, Any]:
    res = {
        "resourceType": "PractitionerRole",
        "id": rid,
        "practitioner": {"reference": f"Practitioner/{pid}"},
        field: [{"coding": [{"system": NUCC, "code": t}]} for t in taxonomies],
    }
    res.update(extra)
    return res


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("225100000X", "PT"),
        ("2251G0304X", "PT"),
        ("225200000X", "PTA"),
        ("225X00000X", "OT"),
        ("225XP0200X", "OT"),
        ("224Z00000X", "OTA"),
        ("224ZL0004X", "OTA"),
        ("163W00000X", "RN"),
        ("163WD0400X", "RN"),  # RN, diabetes educator: the licence decides (CDCES is a credential)
        ("133V00000X", "RD"),
        ("133VN1201X", "RD"),
        ("207Q00000X", "MD"),
        ("208D00000X", "MD"),
        ("204C00000X", "MD"),
        ("363LF0000X", "NP"),
        ("363A00000X", "PA"),
        ("172V00000X", "CHW"),
        ("235Z00000X", "other"),
        ("1835P1200X", "other"),
        (" 225100000x ", "PT"),
    ],
)
def test_taxonomy_codes(code: str, expected: str) -> None:
    assert role_from_taxonomy(code) == expected


def test_practitioner_role_code_and_specialty() -> None:
    assert provider_from_resources(practitioner(), [role("225100000X")]).role == "PT"
    assert provider_from_resources(practitioner(), [role("225200000X", field="specialty")]).role == "PTA"


def test_qualification_taxonomy_with_urn_oid_system() -> None:
    prac = practitioner(("urn:oid:2.16.840.1.113883.6.101", "225X00000X"))
    provider = provider_from_resources(prac, [])
    assert provider.role == "OT" and provider.taxonomy == ("225X00000X",) and provider.name == "Pat Lee"
    assert provider.reference == "Practitioner/pr1"


def test_role_resource_wins_over_qualification() -> None:
    prac = practitioner((NUCC, "163W00000X"))
    assert provider_from_resources(prac, [role("363LF0000X")]).role == "NP"


def test_physician_md_or_do_from_degree() -> None:
    assert provider_from_resources(practitioner((NUCC, "207Q00000X")), []).role == "MD"
    assert provider_from_resources(practitioner((NUCC, "207Q00000X"), (V2_0360, "DO")), []).role == "DO"
    assert provider_from_resources(practitioner((V2_0360, "DO")), [role("208D00000X")]).role == "DO"


@pytest.mark.parametrize(
    ("degree", "expected"),
    [("MD", "MD"), ("DO", "DO"), ("RN", "RN"), ("NP", "NP"), ("PA", "PA"), ("PT", "PT"), ("CNP", "NP")],
)
def test_v2_0360_degree_fallback(degree: str, expected: str) -> None:
    assert provider_from_resources(practitioner((V2_0360, degree)), []).role == expected
    with_version = practitioner(("http://terminology.hl7.org/CodeSystem/v2-0360|2.7", degree))
    assert provider_from_resources(with_version, []).role == expected


def test_cdces_only_from_the_credential_and_only_without_a_licence() -> None:
    assert provider_from_resources(practitioner(text="CDCES"), []).role == "CDCES"
    assert provider_from_resources(practitioner((V2_0360, "RN"), text="CDCES"), []).role == "RN"


def test_several_roles_highest_licence_with_note() -> None:
    prac = practitioner((NUCC, "163W00000X"), (NUCC, "363LF0000X"))
    ctx = context_from_resources([prac], practitioner_ref="Practitioner/pr1")
    assert ctx.provider.role == "NP"
    assert any("several roles (NP, RN); used NP" in n for n in ctx.read_notes)


def test_no_codes_is_unknown_and_outside_roles_is_other() -> None:
    us_core = load_json("public/us-core-examples/practitioner-1.json")
    assert provider_from_resources(us_core, []).role == "unknown"
    assert provider_from_resources(practitioner((NUCC, "235Z00000X")), []).role == "other"


def test_fhir_user_practitioner_role_reference() -> None:
    resources = [practitioner(), role("2251G0304X", rid="pr-role")]
    ctx = context_from_resources(resources, practitioner_ref="https://ehr.test/fhir/PractitionerRole/pr-role")
    assert ctx.provider.role == "PT" and ctx.provider.reference == "Practitioner/pr1"


def test_inactive_roles_do_not_count() -> None:
    resources = [practitioner((V2_0360, "RN")), role("225100000X", active=False)]
    assert context_from_resources(resources, practitioner_ref="Practitioner/pr1").provider.role == "RN"


def test_npi_from_identifier() -> None:
    prac = load_json("fixtures/practitioner.us-core-practitioner-1.json")
    provider = provider_from_resources(prac, [])
    assert provider.npi == "9941339100" and provider.name == "Ronald Bone"


def test_named_clinician_absent_from_the_data_is_said() -> None:
    ctx = context_from_resources([practitioner()], practitioner_ref="Practitioner/someone")
    assert ctx.provider.role == "unknown" and ctx.provider.reference == "Practitioner/someone"
    assert any("was not among the data read" in n for n in ctx.read_notes)


def test_order_requester_role_from_the_requester_resource() -> None:
    request = load_json("public/us-core-examples/servicerequest-rehab.json")
    request["requester"] = {"reference": "Practitioner/pr1"}
    (order,) = context_from_resources([request, practitioner((NUCC, "207Q00000X"))]).orders
    assert order.requester == "Practitioner/pr1" and order.requester_role == "MD"
