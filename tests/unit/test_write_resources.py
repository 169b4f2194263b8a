"""The built resources, validated with R4B and compared field by field with the fixtures' expectations."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fhir_mappings import extensions as ext
from fhir_mappings import write
from tests.conftest import load_json
from tests.unit.test_write_factories import CODE_TEXT, LABELS, SIGNED, context, line

NOTE = "Patient education note\nTopic: diabetes\n"


def _doc(**kw: Any) -> dict[str, Any]:
    return write.build_document_reference(context(**kw), identifier_value="note-abc", note_text=NOTE)


def test_document_reference_matches_the_us_core_fixture() -> None:
    expected = load_json("fixtures/documentreference.patient-education-note.derived.json")
    doc = _doc()
    for name in ("status", "docStatus", "category", "subject", "date", "author", "context"):
        assert doc[name] == expected[name], name
    assert doc["meta"]["profile"] == expected["meta"]["profile"]
    assert expected["type"]["coding"][0] in doc["type"]["coding"]
    assert doc["type"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "34895-3",
        "display": "Education note",
    }
    attachment = doc["content"][0]["attachment"]
    assert attachment["title"] == expected["content"][0]["attachment"]["title"]
    assert attachment["creation"] == expected["content"][0]["attachment"]["creation"]
    assert attachment["contentType"] == "text/plain;charset=utf-8"
    assert base64.b64decode(attachment["data"]).decode("utf-8") == NOTE


def test_document_reference_is_marked_as_ours_with_the_project_identifier() -> None:
    doc = _doc()
    assert doc["identifier"] == [{"system": ext.IDENTIFIER_SYSTEM, "value": "note-abc"}]
    assert doc["meta"]["source"] == ext.META_SOURCE
    assert {"system": ext.WRITTEN_BY_TAG_SYSTEM, "code": ext.WRITTEN_BY_TAG_CODE} in doc["meta"]["tag"]


def test_content_type_follows_the_profile_quirk() -> None:
    doc = write.build_document_reference(
        context(), identifier_value="n", note_text=NOTE, content_type="text/plain"
    )
    assert doc["content"][0]["attachment"]["contentType"] == "text/plain"


def test_without_start_and_end_the_period_is_the_service_day_and_no_author_is_invented() -> None:
    doc = _doc(start=None, end=None, author_ref=None)
    assert doc["context"]["period"] == {"start": "2015-11-01", "end": "2015-11-01"}
    assert "author" not in doc


def test_charge_item_matches_the_cpt_98960_fixture() -> None:
    expected = load_json("fixtures/chargeitem.patient-education-cpt98960.derived.json")
    charge = write.build_charge_item(
        context(),
        line(),
        identifier_value="charge-abc",
        note_ref="DocumentReference/patient-education-note",
        code_text=CODE_TEXT["98960"],
        diagnosis_labels=LABELS,
    )
    for name in (
        "status",
        "code",
        "subject",
        "context",
        "occurrenceDateTime",
        "performer",
        "quantity",
        "enterer",
        "enteredDate",
        "reason",
        "supportingInformation",
    ):
        assert charge[name] == expected[name], name
    assert charge["identifier"] == [{"system": ext.IDENTIFIER_SYSTEM, "value": "charge-abc"}]


def test_modifiers_and_place_of_service_travel_in_the_project_extension() -> None:
    charge = write.build_charge_item(
        context(organization_ref="Organization/clinic"),
        line(code="97110", units=2, modifiers=("GP", "59"), diagnoses=("M54.50", "E11.9")),
        identifier_value="c",
        note_ref=None,
    )
    [detail] = charge["extension"]
    assert detail["url"] == ext.BILLING_DETAIL_URL
    assert detail["extension"] == [
        {"url": "modifier", "valueCoding": {"system": ext.HCPCS_SYSTEM, "code": "GP"}},
        {"url": "modifier", "valueCoding": {"system": ext.CPT_SYSTEM, "code": "59"}},
        {"url": "place-of-service", "valueCoding": {"system": ext.POS_SYSTEM, "code": "11"}},
    ]
    assert [r["coding"][0]["code"] for r in charge["reason"]] == ["M54.50", "E11.9"]  # pointer order
    assert charge["quantity"] == {"value": 2}
    assert charge["performingOrganization"] == {"reference": "Organization/clinic"}
    assert "supportingInformation" not in charge


def test_provenance_names_the_clinician_and_the_app_and_targets_both() -> None:
    prov = write.build_provenance(
        context(organization_ref="Organization/clinic"),
        targets=["DocumentReference/1", "ChargeItem/2"],
        key_value="prov-abc",
        app_version="0.1.0",
    )
    assert prov["target"] == [{"reference": "DocumentReference/1"}, {"reference": "ChargeItem/2"}]
    assert prov["recorded"] == "2015-11-01T18:05:00-05:00"
    author, app = prov["agent"]
    assert author["who"] == {"reference": "Practitioner/practitioner-1"}
    assert author["type"]["coding"][0]["code"] == "author"
    assert app["who"]["reference"] == "#app"
    assert prov["contained"][0]["resourceType"] == "Device"
    assert {"system": ext.PROVENANCE_KEY_TAG_SYSTEM, "code": "prov-abc"} in prov["meta"]["tag"]


def test_transaction_entries_match_the_fixture_shape() -> None:
    expected = load_json("fixtures/bundle.transaction-request.education-note-and-charge.derived.json")
    doc = _doc()
    entry = write.transaction_entry(
        doc, full_url="urn:uuid:x", if_none_exist=write.identifier_query("note-abc")
    )
    assert entry["request"]["method"] == expected["entry"][0]["request"]["method"]
    assert entry["request"]["url"] == expected["entry"][0]["request"]["url"]
    assert entry["request"]["ifNoneExist"] == f"identifier={ext.IDENTIFIER_SYSTEM}|note-abc"


def test_oracle_create_parameters_follow_the_vendor_fixture() -> None:
    fixture = load_json("fixtures/parameters.chargeitem-create-request.oracle-health.json")
    vendor_item = fixture["parameter"][0]["resource"]
    tenant = "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d"
    charge = write.build_charge_item(
        context(),
        line(modifiers=("26",)),
        identifier_value="c",
        note_ref="DocumentReference/9",
        status="unknown",  # the Oracle profile's chargeitem_status
    )
    params = write.build_oracle_charge_parameters(
        charge,
        bill_code=write.BillCode(
            system=f"{tenant}/CodeSystem/BillCodes-CDM_SCHED",
            code="01012021",
            schedule_system=f"{tenant}/codeSet/14002",
            schedule_code="667687",
        ),
        transaction_id="9befb168-a01f-4336-9547-5d26f0100058",
        icd_system=f"{tenant}/CodeSystem/BillCodes-ICD",
        modifier_system=f"{tenant}/CodeSystem/BillCodes-MODIFIER",
    )
    assert [p["name"] for p in params["parameter"]] == ["chargeItem", "transactionId"]
    assert params["parameter"][1] == fixture["parameter"][1]
    item = params["parameter"][0]["resource"]
    assert item["status"] == "unknown"
    assert item["code"] == vendor_item["code"]
    for name in ("subject", "context", "occurrenceDateTime", "quantity"):
        assert name in item and item[name] == charge[name]
    assert item["reason"][0]["extension"] == vendor_item["reason"][0]["extension"]
    assert item["reason"][0]["coding"][0] == {"system": f"{tenant}/CodeSystem/BillCodes-ICD", "code": "E11.9"}
    [modifier] = item["extension"]
    vendor_modifier = next(e for e in vendor_item["extension"] if e["url"].endswith("/modifier-code"))
    assert [e["url"] for e in modifier["extension"]] == [e["url"] for e in vendor_modifier["extension"]]
    assert modifier["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "26"
    assert "identifier" not in item and "supportingInformation" not in item


def test_an_invalid_resource_never_leaves_the_builder() -> None:
    naive = SIGNED.replace(tzinfo=None)  # FHIR requires a time zone on a dateTime with a time
    with pytest.raises(write.InvalidResource) as caught:
        _doc(recorded=naive)
    assert caught.value.resource_type == "DocumentReference"
    assert "the signing time" in str(caught.value) and "pydantic" not in str(caught.value)
