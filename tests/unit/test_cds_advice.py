"""What the cards say, decided from ClinicalContexts directly: families, orders, payers, discharge."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from billing_rules.model import (
    ClinicalContext,
    Coding,
    Diagnosis,
    EncounterInfo,
    ExistingCharge,
    Order,
    PatientInfo,
    Payer,
    Provider,
)
from fhir_mappings.extensions import META_SOURCE, WRITTEN_BY_TAG_CODE, WRITTEN_BY_TAG_SYSTEM
from fhir_mappings.write import identifier
from smart_app.cds_hooks import discharge, eligibility
from smart_app.cds_hooks.advice import supporting_conditions
from smart_app.cds_hooks.ours import is_app_written, is_education_order

TODAY = date(2026, 3, 2)
T2DM = Diagnosis("c1", icd10=("E11.9",), category=("encounter-diagnosis",), clinical_status="active")
ORDER = Order(
    "sr1",
    codes=(Coding("http://clinic.test/orderables", "DSME-IND", "Diabetes self-management education"),),
    status="active",
    intent="order",
    authored_on=date(2026, 2, 20),
    requester="Practitioner/md1",
    requester_role="MD",
)


def ctx(
    payer: str = "commercial", conditions: tuple[Diagnosis, ...] = (T2DM,), **kw: object
) -> ClinicalContext:
    base: dict[str, object] = {
        "patient": PatientInfo(id="p1"),
        "encounter": EncounterInfo(id="e1", status="in-progress", start="2026-03-02T09:00:00-08:00"),
        "conditions": conditions,
        "payer": Payer(payer_class=payer),  # type: ignore[arg-type]
        "provider": Provider(role="RN"),
        "orders": (ORDER,),
    }
    base.update(kw)
    return ClinicalContext(**base)  # type: ignore[arg-type]


def test_supporting_families_come_from_icd10_and_snomed() -> None:
    snomed_only = Diagnosis("c2", snomed=("195967001",), clinical_status="active")  # asthma (Synthea)
    resolved = Diagnosis("c3", icd10=("J45.909",), clinical_status="resolved")
    refuted = Diagnosis("c4", icd10=("I50.9",), verification_status="refuted")
    fracture = Diagnosis("c5", icd10=("S72.001A",), clinical_status="active")
    found = supporting_conditions(ctx(conditions=(T2DM, snomed_only, resolved, refuted, fracture)))
    assert [s.icd10 for s in found] == [("E11.9",), ()]
    assert len({s.family for s in found}) == 2


@pytest.mark.parametrize(
    ("payer", "kind", "expect"),
    [
        ("commercial", "billable-education", "is billable as 98960"),
        ("medicaid", "billable-education", "is billable as 98960"),
        ("medicare", "payable-routes", "Medicare does not pay 98960 separately"),
    ],
)
def test_one_card_per_payer_class(payer: str, kind: str, expect: str) -> None:
    (advice,) = eligibility.advise(ctx(payer), today=TODAY)
    assert advice.kind == kind and expect in advice.summary and len(advice.summary) < 140


def test_medicare_routes_are_the_rules_data_alternatives_that_fit_the_clinician() -> None:
    (advice,) = eligibility.advise(ctx("medicare"), today=TODAY)  # an RN, diabetes: DSMT only (issue 12)
    assert "G0108/G0109" in advice.codes and "97110" not in advice.codes and "98960" not in advice.codes
    assert advice.app_context["routes"]
    (pt,) = eligibility.advise(ctx("medicare", provider=Provider(role="PT")), today=TODAY)
    assert {"97110", "97530", "97535"} <= set(pt.codes) and "G0108/G0109" not in pt.codes


def test_no_order_is_a_fix_before_billing() -> None:
    (advice,) = eligibility.advise(ctx(orders=()), today=TODAY)
    assert advice.indicator == "warning" and "order.missing" in [f.rule for f in advice.findings]


def test_an_order_alone_prompts_even_without_a_supporting_condition() -> None:
    (advice,) = eligibility.advise(ctx(conditions=()), today=TODAY)
    assert advice.summary.startswith("Ordered education")


def test_no_condition_and_no_order_gives_no_card() -> None:
    assert eligibility.advise(ctx(conditions=(), orders=()), today=TODAY) == []


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (ORDER, True),
        (Order("a", codes=(Coding("http://www.ama-assn.org/go/cpt", "98961"),), status="active"), True),
        (Order("b", text="Heart failure self-management teaching", status="active"), True),
        (Order("c", text="Physical therapy evaluate and treat", status="active"), False),
        (Order("d", text="Diabetes education", status="revoked"), False),
        (Order("e", text="Diabetes education", status="active", intent="proposal"), False),
        (Order("f", codes=(Coding("http://loinc.org", "98960"),), status="active"), False),
    ],
)
def test_education_orders(order: Order, expected: bool) -> None:
    assert is_education_order(order, ("98960", "98961", "98962")) is expected


def test_app_written_by_identifier_tag_or_source() -> None:
    assert is_app_written({"identifier": [identifier("x" * 32)]})
    assert is_app_written({"meta": {"tag": [{"system": WRITTEN_BY_TAG_SYSTEM, "code": WRITTEN_BY_TAG_CODE}]}})
    assert is_app_written({"meta": {"source": META_SOURCE}})
    assert not is_app_written({"identifier": [{"system": "urn:other", "value": "1"}], "meta": {"tag": []}})


def charge(**extra: object) -> dict[str, object]:
    return {
        "resourceType": "ChargeItem",
        "id": "ci1",
        "identifier": [identifier("c" * 32)],
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "98960"}]},
        "context": {"reference": "Encounter/e1"},
        "occurrenceDateTime": "2026-03-02",
        "reason": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]}],
        **extra,
    }


NOTE = {"resourceType": "DocumentReference", "id": "n1", "identifier": [identifier("d" * 32)]}


def test_discharge_recheck_sees_a_missing_order() -> None:
    (advice,) = discharge.advise(ctx(orders=()), [charge()], [NOTE], encounter_id="e1", today=TODAY)
    assert (
        "order.missing" in [f.rule for f in advice.findings] and advice.app_context["chargeItemId"] == "ci1"
    )


def test_discharge_recheck_treats_our_own_charge_as_no_duplicate() -> None:
    own = ExistingCharge(
        "ci1", "98960", date(2026, 3, 2), "billable", ("|".join(identifier("c" * 32).values()),)
    )
    other = ExistingCharge("ci9", "98960", date(2026, 3, 2), "billable", ("urn:other|9",))
    assert (
        discharge.advise(ctx(existing_charges=(own,)), [charge()], [NOTE], encounter_id="e1", today=TODAY)
        == []
    )
    (advice,) = discharge.advise(
        ctx(existing_charges=(own, other)), [charge()], [NOTE], encounter_id="e1", today=TODAY
    )
    assert [f.rule for f in advice.findings] == ["duplicate.charge"]


def test_discharge_charge_on_another_encounter_is_not_ours_to_check() -> None:
    elsewhere = charge(context={"reference": "Encounter/e2"})
    (advice,) = discharge.advise(ctx(), [elsewhere], [], encounter_id="e1", today=TODAY)
    assert advice.kind == "ordered-not-documented"


def test_discharge_completed_order_without_documentation_is_quiet() -> None:
    done = Order("sr2", text="Diabetes self-management education", status="completed")
    assert discharge.advise(ctx(orders=(done,)), [], [], encounter_id="e1", today=TODAY) == []


def test_rule_data_gaps_are_a_footnote_not_a_warning() -> None:
    today_visit = EncounterInfo(id="e1", status="in-progress", start="2026-11-27T09:00:00-08:00")
    pain = replace(T2DM, icd10=("G89.29",), display="Other chronic pain")
    (advice,) = eligibility.advise(ctx(encounter=today_visit, conditions=(pain,)), today=date(2026, 11, 27))
    assert advice.indicator == "info" and "is billable" in advice.summary
    # FY2027 ICD-10-CM is loaded only for some categories (not G89): said once, in the detail
    assert "Rule data: " in advice.detail and "FY2027" in advice.detail


def test_discharge_is_quiet_about_a_warning_acknowledged_at_signing() -> None:
    own = ExistingCharge(
        "ci1", "98960", date(2026, 3, 2), "billable", ("|".join(identifier("c" * 32).values()),)
    )
    other = ExistingCharge("ci9", "98960", date(2026, 3, 2), "billable", ("urn:other|9",))
    chart = ctx(existing_charges=(own, other))
    signed_over = {identifier("c" * 32)["value"]: frozenset({"duplicate.charge"})}
    assert (
        discharge.advise(chart, [charge()], [NOTE], encounter_id="e1", today=TODAY, acknowledged=signed_over)
        == []
    )
    elsewhere = {
        "charge-of-another-visit": frozenset({"duplicate.charge"})
    }  # another charge's answer counts not
    (advice,) = discharge.advise(
        chart, [charge()], [NOTE], encounter_id="e1", today=TODAY, acknowledged=elsewhere
    )
    assert [f.rule for f in advice.findings] == ["duplicate.charge"]


def test_each_card_kind_has_dismiss_reasons_that_fit_it() -> None:
    from smart_app.cds_hooks.hooks import OVERRIDE_REASONS

    education = {c.code for c in OVERRIDE_REASONS["billable-education"]}
    assert "patient-declined" in education
    for kind in ("ordered-not-documented", "documented-needs-fix"):
        codes = {c.code for c in OVERRIDE_REASONS[kind]}
        assert "patient-declined" not in codes and len(codes) >= 3, kind
    assert {c.code for c in OVERRIDE_REASONS["ordered-not-documented"]} != {
        c.code for c in OVERRIDE_REASONS["documented-needs-fix"]
    }
