"""Payer class from Coverage: SOPT codes, v3/self-pay types, plan and payor names, several coverages."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappings.codes import SOPT, V3_ACT_CODE
from fhir_mappings.read import context_from_resources, payer_class_from_coverage
from tests.conftest import load_json


def coverage(*codings: tuple[str | None, str], **extra: Any) -> dict[str, Any]:
    cov: dict[str, Any] = {"resourceType": "Coverage", "id": "cov", "status": "active"}
    if codings:
        cov["type"] = {"coding": [{"system": s, "code": c} for s, c in codings]}
    cov.update(extra)
    return cov


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("1", "medicare"),
        ("12", "medicare"),
        ("121", "medicare"),
        ("122", "medicare"),
        ("13", "medicare"),
        ("19", "medicare"),
        ("11", "medicare-advantage"),
        ("111", "medicare-advantage"),
        ("112", "medicare-advantage"),
        ("119", "medicare-advantage"),
        ("14", "medicare-advantage"),
        ("2", "medicaid"),
        ("21", "medicaid"),
        ("213", "medicaid"),
        ("23", "medicaid"),
        ("5", "commercial"),
        ("512", "commercial"),
        ("6", "commercial"),
        ("81", "self-pay"),
        ("8", "self-pay"),
        ("3", "unknown"),
        ("311", "unknown"),
        ("32", "unknown"),
        ("3712", "unknown"),
        ("4", "unknown"),
        ("95", "unknown"),
        ("7", "unknown"),
        ("72", "unknown"),
        ("9999", "unknown"),
    ],
)
def test_sopt_codes(code: str, expected: str) -> None:
    assert payer_class_from_coverage(coverage((SOPT, code))).payer_class == expected


def test_sopt_code_with_spaces_and_oid_system() -> None:
    cov = coverage(("urn:oid:2.16.840.1.113883.3.221.5", " 121 "))
    payer = payer_class_from_coverage(cov)
    assert payer.payer_class == "medicare" and payer.basis and "SOPT 121" in payer.basis


def test_other_government_stays_unknown_and_says_why() -> None:
    payer = payer_class_from_coverage(coverage((SOPT, "311")))
    assert payer.payer_class == "unknown" and payer.basis and "government" in payer.basis


def test_us_core_example_local_government_ppo_is_not_forced_into_commercial() -> None:
    # SOPT 3712 is "Local government, managed care, PPO" (family 3: other government), whatever its display.
    payer = payer_class_from_coverage(
        load_json("public/us-core-examples/coverage-example.json"),
        load_json("public/us-core-examples/organization-acme-payer.json"),
    )
    assert (
        payer.payer_class == "unknown"
        and payer.name == "Acme Health Plan"
        and payer.coverage_id == "coverage-example"
    )
    assert payer.basis and "3712" in payer.basis


def test_carin_coverage_without_type_is_classed_from_its_medicare_hmo_group_name() -> None:
    payer = payer_class_from_coverage(
        load_json("public/carin-bb-examples/Coverage_CoverageEx1.json"),
        load_json("public/carin-bb-examples/Organization_PayerOrganizationExample1.json"),
    )
    assert payer.payer_class == "medicare-advantage" and payer.name == "UPMC Health Plan"
    assert payer.basis and "MEDICARE HMO PLAN" in payer.basis


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Medicare Part A", "medicare"),
        ("Medicare Part B", "medicare"),
        ("Medicare", "medicare"),
        ("Original Medicare", "medicare"),
        ("Medicare Advantage Gold", "medicare-advantage"),
        ("Humana Medicare HMO", "medicare-advantage"),
        ("Aetna Medicare PPO", "medicare-advantage"),
        ("Medicaid", "medicaid"),
        ("Medi-Cal", "medicaid"),
        ("MassHealth Standard", "medicaid"),
        ("State Medicaid Managed Care", "medicaid"),
        ("Self Pay", "self-pay"),
        ("Centers for Medicare and Medicaid Services", "unknown"),
        ("Medicare/Medi-Cal", "unknown"),
        ("Acme Medicare Supplement", "unknown"),
        ("Acme Health Plan", "unknown"),
    ],
)
def test_names_when_type_is_absent(name: str, expected: str) -> None:
    by_plan = coverage(**{"class": [{"type": {"coding": [{"code": "plan"}]}, "value": "x", "name": name}]})
    by_payor = coverage(payor=[{"display": name}])
    by_org = coverage(payor=[{"reference": "Organization/o"}])
    assert payer_class_from_coverage(by_plan).payer_class == expected
    assert payer_class_from_coverage(by_payor).payer_class == expected
    assert (
        payer_class_from_coverage(by_org, {"resourceType": "Organization", "name": name}).payer_class
        == expected
    )


def test_cms_name_decides_nothing_but_a_plan_name_still_can() -> None:
    cov = coverage(
        payor=[{"display": "Centers for Medicare and Medicaid Services"}],
        **{"class": [{"value": "b", "name": "Medicare Part B"}]},
    )
    assert payer_class_from_coverage(cov).payer_class == "medicare"


def test_medicare_name_with_managed_care_type_is_medicare_advantage() -> None:
    cov = coverage((V3_ACT_CODE, "HMO"), payor=[{"display": "Medicare"}])
    assert payer_class_from_coverage(cov).payer_class == "medicare-advantage"


def test_managed_care_type_alone_decides_nothing() -> None:
    payer = payer_class_from_coverage(coverage((V3_ACT_CODE, "PPO"), payor=[{"display": "Acme"}]))
    assert payer.payer_class == "unknown" and payer.basis and "managed-care" in payer.basis


@pytest.mark.parametrize(
    "codings",
    [
        [("http://terminology.hl7.org/CodeSystem/coverage-selfpay", "pay")],
        [(V3_ACT_CODE, "pay")],
        [(SOPT, "81")],
    ],
)
def test_self_pay_types(codings: list[tuple[str, str]]) -> None:
    assert payer_class_from_coverage(coverage(*codings)).payer_class == "self-pay"


def test_conflicting_sopt_codes_give_unknown() -> None:
    payer = payer_class_from_coverage(coverage((SOPT, "121"), (SOPT, "21")))
    assert payer.payer_class == "unknown" and payer.basis and "disagree" in payer.basis


def test_sopt_wins_over_names() -> None:
    cov = coverage((SOPT, "21"), payor=[{"display": "Medicare"}])
    assert payer_class_from_coverage(cov).payer_class == "medicaid"


def test_absent_type_and_no_names_is_unknown_with_reason() -> None:
    payer = payer_class_from_coverage(coverage())
    assert payer.payer_class == "unknown" and payer.basis and "absent" in payer.basis


def test_garbage_coverage_never_raises() -> None:
    for bad in ({}, {"type": "x", "class": 5, "payor": "y"}, {"type": {"coding": [None, 3]}}):
        assert payer_class_from_coverage(bad).payer_class == "unknown"


def _patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p"}


def test_several_active_coverages_primary_by_order_with_note() -> None:
    secondary = coverage((SOPT, "5"), id="c2", order=2, beneficiary={"reference": "Patient/p"})
    primary = coverage((SOPT, "121"), id="c1", order=1, beneficiary={"reference": "Patient/p"})
    ctx = context_from_resources([_patient(), secondary, primary])
    assert ctx.payer.payer_class == "medicare" and ctx.payer.coverage_id == "c1"
    assert any("2 active coverages; used the lowest 'order'" in n for n in ctx.read_notes)


def test_several_coverages_without_order_first_listed_wins() -> None:
    first = coverage((SOPT, "2"), id="c1")
    second = coverage((SOPT, "5"), id="c2")
    ctx = context_from_resources([_patient(), first, second])
    assert ctx.payer.coverage_id == "c1" and any("first listed" in n for n in ctx.read_notes)


def test_cancelled_and_other_patients_coverages_are_ignored() -> None:
    cancelled = coverage((SOPT, "121"), id="c1", status="cancelled")
    theirs = coverage((SOPT, "121"), id="c2", beneficiary={"reference": "Patient/other"})
    mine = coverage((SOPT, "512"), id="c3", beneficiary={"reference": "Patient/p"})
    ctx = context_from_resources([_patient(), cancelled, theirs, mine])
    assert ctx.payer.coverage_id == "c3" and ctx.payer.payer_class == "commercial"


def test_unknown_payer_class_is_said_in_read_notes() -> None:
    ctx = context_from_resources([_patient(), coverage()])
    assert ctx.payer.payer_class == "unknown"
    assert any("payer class could not be told" in n for n in ctx.read_notes)


# --- Issue 12: every element naming the plan counts when Coverage.type is absent ---------------------------


@pytest.mark.parametrize(
    ("klass", "expected"),
    [
        ({"type": {"coding": [{"code": "plan"}]}, "value": "Medicare Part A"}, "medicare"),
        (
            {"type": {"coding": [{"code": "group"}]}, "value": "Humana Medicare Advantage PPO"},
            "medicare-advantage",
        ),
        ({"type": {"coding": [{"code": "plan"}]}, "value": "MEDI-CAL"}, "medicaid"),
        ({"type": {"coding": [{"code": "group"}]}, "value": "GRP-0042"}, "unknown"),
    ],
)
def test_a_plan_named_only_in_class_value_is_classed(klass: dict[str, Any], expected: str) -> None:
    assert payer_class_from_coverage(coverage(**{"class": [klass]})).payer_class == expected


def test_no_coverage_could_be_read_only_when_none_was() -> None:
    from billing_rules import evaluate, parse_service_record
    from billing_rules.model import ClinicalContext, Provider

    record = parse_service_record({"code": "97110", "minutes": 30, "service_date": "2026-03-02"})
    read = payer_class_from_coverage(coverage(**{"class": [{"value": "GRP-0042"}]}), {"name": "Acme Trust"})
    assert read.payer_class == "unknown"
    said = evaluate(record, ClinicalContext(payer=read, provider=Provider("PT")))
    (unknown,) = [f for f in said.findings if f.rule == "payer.unknown"]
    assert "No coverage could be read" not in unknown.message and "Acme Trust" in unknown.message
    none = evaluate(record, ClinicalContext(provider=Provider("PT")))
    (unknown,) = [f for f in none.findings if f.rule == "payer.unknown"]
    assert "No coverage could be read" in unknown.message
