"""fhir_mappings.read over every stored payload, and the clinical mapping rules (patient, encounter,
diagnoses, orders, existing charges, bundle flattening)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from billing_rules.model import ClinicalContext
from fhir_mappings.read import context_from_bundle, context_from_resources, resources_from_bundle
from tests.conftest import DATA, load_json

ALL_JSON = sorted(DATA.rglob("*.json"))
CLINICAL = {"Patient", "Encounter", "Condition", "Coverage", "ServiceRequest", "ChargeItem", "Bundle"}
SYNTHEA = "public/synthea-smart-generated-sample-data"
LOUIS = f"{SYNTHEA}/Louis_Maggio_2e275d4b-855a-4eb2-9021-5410aa8acd4f.json"
US = "public/us-core-examples"


def _read_any(data: Any) -> ClinicalContext:
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return context_from_bundle(data)
    return context_from_resources([data])


def test_there_are_payloads_to_read() -> None:
    assert len(ALL_JSON) > 80


@pytest.mark.parametrize("path", ALL_JSON, ids=lambda p: str(p.relative_to(DATA)))
def test_every_stored_payload_reads_without_exception(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    ctx = _read_any(data)
    assert isinstance(ctx, ClinicalContext)
    assert all(isinstance(n, str) and n for n in ctx.read_notes)
    assert context_from_bundle(data) is not None  # a non-Bundle handed to the bundle reader is tolerated too
    if data.get("resourceType") not in CLINICAL:
        assert ctx.patient.id is None and not ctx.conditions and not ctx.orders and not ctx.existing_charges
        assert ctx.payer.payer_class == "unknown" and ctx.provider.role == "unknown"


def _mangle(value: Any) -> list[Any]:
    """Wrong-typed stand-ins for one element."""
    return [None, 7, True, "x", [], {}, [None, 3], {"coding": "E11.9"}, {"reference": 5}]


@pytest.mark.parametrize(
    "source",
    [
        "fixtures/patient.us-core-example.json",
        f"{US}/encounter-example-1.json",
        f"{US}/condition-encounter-diagnosis-example1.json",
        f"{US}/coverage-example.json",
        f"{US}/servicerequest-rehab.json",
        "fixtures/chargeitem.patient-education-cpt98960.derived.json",
        "fixtures/practitioner.us-core-practitioner-1.json",
    ],
)
def test_wrong_types_in_any_element_never_raise(source: str) -> None:
    original = load_json(source)
    for key in original:
        if key == "resourceType":
            continue
        for bad in _mangle(original[key]):
            resource = copy.deepcopy(original)
            resource[key] = bad
            ctx = context_from_resources([resource], practitioner_ref="Practitioner/practitioner-1")
            assert isinstance(ctx, ClinicalContext)


def test_garbage_input_gives_an_empty_context_and_a_note() -> None:
    for junk in (
        None,
        3,
        "text",
        [1, 2],
        {"entry": "x"},
        {"resourceType": "Bundle", "entry": [5, {"resource": 3}]},
    ):
        ctx = context_from_bundle(junk)  # type: ignore[arg-type]
        assert ctx.patient.id is None and ctx.read_notes
    assert context_from_resources([None, 5, "x"]).read_notes  # type: ignore[list-item]


def test_synthea_patient_encounter_and_snomed_only_conditions() -> None:
    ctx = context_from_bundle(load_json(LOUIS))
    assert ctx.patient.id == "bae2bf00-eca1-47fb-bb43-272f8de1449c"
    assert ctx.patient.name and ctx.patient.birth_date is not None
    assert len(ctx.conditions) == 12
    assert all(dx.needs_icd10 and dx.snomed for dx in ctx.conditions)
    assert any("ICD-10-CM" in n for n in ctx.read_notes)
    # The most recent of several encounters is used, and its urn:uuid participants resolve.
    assert any("encounters in the data; used the most recent" in n for n in ctx.read_notes)
    starts = [
        r["period"]["start"]
        for r in resources_from_bundle(load_json(LOUIS))
        if r["resourceType"] == "Encounter"
    ]
    assert ctx.encounter.start == max(starts) == "2021-01-04T19:28:31+00:00"
    assert ctx.encounter.participant_ids and ctx.encounter.participant_ids[0].startswith("Practitioner/")
    assert ctx.payer.payer_class == "unknown"  # Synthea 2.4 has no Coverage


def test_synthea_condition_links_to_its_encounter_through_urn_uuid() -> None:
    ctx = context_from_bundle(load_json(LOUIS))
    encounter_ids = {
        r["id"] for r in resources_from_bundle(load_json(LOUIS)) if r["resourceType"] == "Encounter"
    }
    assert all(dx.encounter_id in encounter_ids for dx in ctx.conditions)
    resolved = [dx for dx in ctx.conditions if dx.clinical_status == "resolved"]
    assert resolved, "resolved conditions are kept and recognisable"


def test_untrimmed_synthea_bundle_reads_the_same_context() -> None:
    trimmed = context_from_bundle(load_json(LOUIS))
    full = context_from_bundle(
        load_json(f"{SYNTHEA}/untrimmed/Louis_Maggio_2e275d4b-855a-4eb2-9021-5410aa8acd4f.json")
    )
    assert full.patient == trimmed.patient and full.conditions == trimmed.conditions


def test_deceased_synthea_patient() -> None:
    ctx = context_from_bundle(
        load_json(f"{SYNTHEA}/Elisha_Schroeder_f82884e3-7586-4e78-89de-5e682822ed41.json")
    )
    assert ctx.patient.deceased is True
    assert ctx.patient.deceased_date is not None and ctx.patient.deceased_date.year == 2020


def us_core_resources() -> list[dict[str, Any]]:
    return [
        load_json(f"{US}/patient-example.json"),
        load_json(f"{US}/encounter-example-1.json"),
        load_json(f"{US}/condition-encounter-diagnosis-example1.json"),
        load_json(f"{US}/condition-duodenal-ulcer.json"),
        load_json(f"{US}/coverage-example.json"),
        load_json(f"{US}/organization-acme-payer.json"),
        load_json(f"{US}/practitioner-1.json"),
        load_json(f"{US}/servicerequest-rehab.json"),
        load_json("fixtures/chargeitem.patient-education-cpt98960.derived.json"),
    ]


def test_us_core_patient_and_encounter() -> None:
    ctx = context_from_resources(us_core_resources(), patient_id="example", encounter_id="example-1")
    assert (
        ctx.patient.id == "example" and ctx.patient.name == "Amy V. Baxter"
    )  # the current, not the old name
    assert ctx.patient.birth_date == date(1987, 2, 20) and ctx.patient.deceased is None
    enc = ctx.encounter
    assert (enc.id, enc.status, enc.encounter_class, enc.type_text) == (
        "example-1",
        "finished",
        "AMB",
        "Office Visit",
    )
    assert enc.service_date == date(2015, 11, 1)


def test_us_core_diagnoses_carry_icd10_snomed_category_status_and_encounter() -> None:
    ctx = context_from_resources(us_core_resources(), patient_id="example", encounter_id="example-1")
    by_id = {dx.id: dx for dx in ctx.conditions}
    burn = by_id["encounter-diagnosis-example1"]
    assert burn.icd10 == ("T20.21",) and burn.snomed == ("39065001",)
    assert burn.category == ("encounter-diagnosis",) and burn.encounter_id == "example-1"
    ulcer = by_id["condition-duodenal-ulcer"]
    assert ulcer.needs_icd10 and ulcer.snomed == ("51868009",)
    assert ulcer.clinical_status == "active" and ulcer.verification_status == "confirmed"
    assert "problem-list-item" in ulcer.category


def test_us_core_order_with_requester_role_and_existing_charge() -> None:
    ctx = context_from_resources(us_core_resources(), patient_id="example")
    (order,) = ctx.orders
    assert order.status == "active" and order.intent == "order"
    assert order.authored_on == date(2021, 11, 12)  # a dateTime with offset -> its calendar date
    assert order.requester == "Practitioner/practitioner-1"
    assert order.requester_role == "unknown"  # the Practitioner is there but names no qualification
    assert {c.code for c in order.codes} == {"24165007", "HZ30ZZZ"} and order.text == "Alcohol rehabilitation"
    (charge,) = ctx.existing_charges
    assert charge.code == "98960" and charge.service_date == date(2015, 11, 1) and charge.status == "billable"
    assert charge.identifiers == ("urn:example:patient-education-app:charge|enc-example-1-98960-1",)
    assert charge.encounter_id == "example-1"


def test_order_without_requester_resource_has_no_role_and_date_only_authored_on() -> None:
    request = load_json(f"{US}/servicerequest-rehab.json") | {"authoredOn": "2021-11-12"}
    (order,) = context_from_resources([request]).orders
    assert order.requester_role is None and order.authored_on == date(2021, 11, 12)


def test_stray_spaces_lowercase_systems_and_oids_in_conditions() -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "code": {
            "coding": [
                {"system": "URN:OID:2.16.840.1.113883.6.90", "code": " e11 9 "},
                {"system": "http://hl7.org/fhir/sid/ICD-10-CM/", "code": "i10"},
                {"system": "urn:oid:2.16.840.1.113883.6.96", "code": " 44054006"},
                {"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"},
            ]
        },
        "clinicalStatus": {"coding": [{"code": "Active"}]},
        "extension": [{"url": "http://example.org/unknown", "valueString": "ignored"}],
        "unknownElement": {"nested": True},
    }
    (dx,) = context_from_resources([condition]).conditions
    assert dx.icd10 == ("E11.9", "I10") and dx.snomed == ("44054006",)
    assert [c.code for c in dx.other_codings] == ["E11.9"]  # WHO ICD-10 kept aside, never taken as ICD-10-CM
    assert dx.clinical_status == "active"


def test_refuted_and_entered_in_error_conditions_are_skipped_with_a_note() -> None:
    def cond(cid: str, ver: str) -> dict[str, Any]:
        return {
            "resourceType": "Condition",
            "id": cid,
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]},
            "verificationStatus": {"coding": [{"code": ver}]},
        }

    ctx = context_from_resources(
        [cond("a", "confirmed"), cond("b", "refuted"), cond("c", "entered-in-error")]
    )
    assert [dx.id for dx in ctx.conditions] == ["a"]
    assert any("refuted or entered in error" in n for n in ctx.read_notes)


def test_resources_of_another_patient_are_left_out() -> None:
    mine = load_json(f"{US}/condition-encounter-diagnosis-example1.json")
    theirs = copy.deepcopy(mine) | {"id": "other", "subject": {"reference": "Patient/someone-else"}}
    ctx = context_from_resources([load_json(f"{US}/patient-example.json"), mine, theirs])
    assert [dx.id for dx in ctx.conditions] == ["encounter-diagnosis-example1"]


def test_patient_named_in_context_but_absent_is_said() -> None:
    ctx = context_from_resources([load_json(f"{US}/patient-example.json")], patient_id="nobody")
    assert ctx.patient.id == "nobody" and ctx.patient.name is None
    assert any("patient in context was not among" in n for n in ctx.read_notes)


def test_patient_chosen_by_id_among_several() -> None:
    other = load_json("public/carin-bb-examples/Patient_ExamplePatient1.json")
    ctx = context_from_resources([other, load_json(f"{US}/patient-example.json")], patient_id="example")
    assert ctx.patient.id == "example"


def test_deceased_date_time_and_boolean() -> None:
    base = load_json(f"{US}/patient-example.json")
    ctx = context_from_resources([base | {"deceasedDateTime": "2021-03-04T10:00:00Z"}])
    assert ctx.patient.deceased is True and ctx.patient.deceased_date == date(2021, 3, 4)
    ctx = context_from_resources([base | {"deceasedBoolean": False}])
    assert ctx.patient.deceased is False and ctx.patient.deceased_date is None


def test_oracle_charge_with_proprietary_bill_code_has_no_code_and_a_note() -> None:
    ctx = context_from_resources([load_json("fixtures/chargeitem.read-response.oracle-health.json")])
    (charge,) = ctx.existing_charges
    assert (
        charge.code is None and charge.encounter_id == "97965088" and charge.service_date == date(2022, 1, 21)
    )
    assert any("no CPT/HCPCS code" in n for n in ctx.read_notes)


def test_charge_coded_with_hcpcs_oid_and_period() -> None:
    charge = {
        "resourceType": "ChargeItem",
        "id": "g",
        "status": "billable",
        "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.285", "code": "g0108 "}]},
        "occurrencePeriod": {"start": "2026-02-03"},
    }
    (read,) = context_from_resources([charge]).existing_charges
    assert read.code == "G0108" and read.service_date == date(2026, 2, 3)


def batch_response() -> dict[str, Any]:
    """What the app's single batch of GETs returns: reads and nested searchsets, one failed read."""

    def searchset(resources: list[dict[str, Any]], more: bool = False) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {"fullUrl": f"https://ehr.test/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                for r in resources
            ],
        }
        if more:
            bundle["link"] = [{"relation": "next", "url": "https://ehr.test/fhir?page=2"}]
        return bundle

    ok = {"status": "200 OK"}
    # The US Core example coverage starts in 2020, after its example encounter (2015): move it back.
    coverage = load_json(f"{US}/coverage-example.json") | {"period": {"start": "2015-01-01"}}
    return {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [
            {"resource": load_json(f"{US}/patient-example.json"), "response": ok},
            {"resource": load_json(f"{US}/encounter-example-1.json"), "response": ok},
            {
                "resource": searchset(
                    [load_json(f"{US}/condition-encounter-diagnosis-example1.json")], more=True
                ),
                "response": ok,
            },
            {
                "resource": searchset([coverage, load_json(f"{US}/organization-acme-payer.json")]),
                "response": ok,
            },
            {"resource": searchset([]), "response": ok},
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "forbidden"}],
                },
                "response": {"status": "403 Forbidden"},
            },
            {"resource": load_json(f"{US}/practitioner-1.json"), "response": ok},
        ],
    }


def test_batch_response_with_nested_searchsets_is_flattened() -> None:
    ctx = context_from_bundle(
        batch_response(),
        patient_id="example",
        encounter_id="example-1",
        practitioner_ref="https://ehr.test/fhir/Practitioner/practitioner-1",
    )
    assert ctx.patient.id == "example" and ctx.encounter.id == "example-1"
    assert [dx.icd10 for dx in ctx.conditions] == [("T20.21",)]
    assert ctx.payer.coverage_id == "coverage-example" and ctx.payer.name == "Acme Health Plan"
    assert ctx.provider.reference == "Practitioner/practitioner-1" and ctx.provider.name == "Ronald Bone"
    assert ctx.provider.npi == "9941339100"
    assert any("failed (403 Forbidden)" in n for n in ctx.read_notes)
    assert any("more pages" in n for n in ctx.read_notes)


def test_resources_from_bundle_flattens_and_context_from_resources_accepts_bundles() -> None:
    bundle = batch_response()
    types = [r["resourceType"] for r in resources_from_bundle(bundle)]
    assert types.count("Condition") == 1 and "Bundle" not in types and "OperationOutcome" not in types
    assert context_from_resources([bundle], patient_id="example").patient.id == "example"


def test_missing_everything_is_said_in_notes() -> None:
    ctx = context_from_resources([load_json(f"{US}/patient-example.json")])
    notes = " ".join(ctx.read_notes)
    for said in ("No Encounter", "No diagnoses", "No active Coverage", "No clinician was named"):
        assert said in notes


def test_coverage_outside_its_period_on_the_encounter_date_is_left_out() -> None:
    ctx = context_from_resources(us_core_resources(), patient_id="example", encounter_id="example-1")
    assert ctx.payer.coverage_id is None and ctx.payer.payer_class == "unknown"
    assert any("outside its period" in n for n in ctx.read_notes)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every nested location (dict keys, list indices) inside a JSON value."""
    out: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    copied = copy.deepcopy(value)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copied


def test_wrong_types_at_every_nested_location_never_raise() -> None:
    resources = us_core_resources()
    checked = 0
    for index, resource in enumerate(resources):
        for path in _paths(resource):
            if path == ("resourceType",):
                continue
            for bad in (None, 5, "x", [], {}):
                mutated = list(resources)
                mutated[index] = _replaced(resource, path, bad)
                ctx = context_from_resources(
                    mutated,
                    patient_id="example",
                    encounter_id="example-1",
                    practitioner_ref="Practitioner/practitioner-1",
                )
                assert isinstance(ctx, ClinicalContext)
                checked += 1
    assert checked > 1000


def test_the_no_icd10_note_only_when_no_condition_has_one() -> None:
    """Issue 12: '1 of 2 conditions have no ICD-10-CM code' was noise beside a valid coded condition."""
    from fhir_mappings.read import context_from_resources

    def condition(cid: str, system: str, code: str) -> dict[str, object]:
        return {
            "resourceType": "Condition",
            "id": cid,
            "subject": {"reference": "Patient/p"},
            "code": {"coding": [{"system": system, "code": code}]},
        }

    patient = {"resourceType": "Patient", "id": "p"}
    icd = condition("a", "http://hl7.org/fhir/sid/icd-10-cm", "E11.9")
    snomed = condition("b", "http://snomed.info/sct", "44054006")
    mixed = context_from_resources([patient, icd, snomed], patient_id="p")
    assert not [n for n in mixed.read_notes if "ICD-10-CM code" in n]
    only = context_from_resources([patient, snomed], patient_id="p")
    assert [n for n in only.read_notes if "None of the 1 condition(s) has an ICD-10-CM code" in n]
