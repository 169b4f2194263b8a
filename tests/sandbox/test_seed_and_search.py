"""Issue 4 acceptance: the seed holds the product's real cases; each search parameter the issue names filters.

The CapabilityStatement test only proves each parameter is accepted; here each one must also select the right
resources (a parameter that was parsed but ignored would pass the former and fail these).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings.read_payer import payer_class_from_coverage
from fhir_mappings.read_provider import role_from_taxonomy
from tests.sandbox.conftest import Ehr
from tests.sandbox.test_fhir_store import CHARGE, DOC

SYNTHEA = Path(__file__).parents[1] / "data" / "public" / "synthea-smart-generated-sample-data"


def matches(store: Ehr, query: str) -> list[dict[str, Any]]:
    """Every resource the search matches, following ``next`` links."""
    sep = "&" if "?" in query else "?"
    url: str | None = f"{store.fhir}/{query}{sep}_count=100"
    found: list[dict[str, Any]] = []
    while url:
        resp = store.http.get(url)
        assert resp.status_code == 200, (query, resp.text)
        page = resp.json()
        found += [
            e["resource"]
            for e in page.get("entry", [])
            if e.get("search", {}).get("mode", "match") == "match"
        ]
        url = next((link["url"] for link in page.get("link", []) if link["relation"] == "next"), None)
    return found


def ids(store: Ehr, query: str) -> set[str]:
    return {r["id"] for r in matches(store, query)}


def test_seed_has_eight_product_patients_and_the_synthea_patients(store: Ehr) -> None:
    patients = ids(store, "Patient")
    assert len({p for p in patients if p.startswith("edu-")}) >= 8
    synthea_files = list(SYNTHEA.glob("*.json"))
    assert synthea_files
    assert len(patients) >= 8 + len(synthea_files)


def test_seed_covers_every_payer_class_role_and_place(store: Ehr) -> None:
    edu = {p for p in ids(store, "Patient") if p.startswith("edu-")}
    coverages = [c for c in matches(store, "Coverage") if c["beneficiary"]["reference"].split("/")[-1] in edu]
    classes = {payer_class_from_coverage(c).payer_class for c in coverages}
    assert {"medicare", "medicare-advantage", "medicaid", "commercial", "self-pay"} <= classes
    nucc = "http://nucc.org/provider-taxonomy"
    taxonomies = [c["code"] for r in matches(store, "PractitionerRole") for concept in r.get("code", [])
                  for c in concept.get("coding", []) if c.get("system") == nucc]  # fmt: skip
    assert {"PT", "PTA", "OT", "RN", "RD", "MD", "NP"} <= {role_from_taxonomy(t) for t in taxonomies}
    edu_encounters = [
        e for e in matches(store, "Encounter") if e["subject"]["reference"].split("/")[-1] in edu
    ]
    assert {"AMB", "HH", "VR"} <= {e["class"]["code"] for e in edu_encounters}  # office, home, video
    names = [" ".join([*n.get("given", []), n.get("family", "")]) for p in matches(store, "Patient")
             for n in p.get("name", [])]  # fmt: skip
    assert any("<" in n and ">" in n for n in names)


def test_seed_codes_diagnoses_as_ehrs_do_and_has_physician_orders(store: Ehr) -> None:
    dx = matches(store, "Condition?patient=edu-knee-medicare&category=encounter-diagnosis")
    problems = matches(store, "Condition?patient=edu-knee-medicare&category=problem-list-item")
    assert dx and all(c["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10-cm" for c in dx)
    assert problems and all(c["code"]["coding"][0]["system"] == "http://snomed.info/sct" for c in problems)
    orders = matches(store, "ServiceRequest?patient=edu-dm-commercial")
    assert orders and all(o["requester"]["reference"].startswith("Practitioner") for o in orders)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Patient?_id=edu-dm-commercial", {"edu-dm-commercial"}),
        (
            "Encounter?patient=edu-knee-medicare&status=finished",
            {"enc-knee-medicare-0216", "enc-knee-medicare-0223"},
        ),
        ("Encounter?patient=edu-knee-medicare&status=in-progress", set()),
        ("Condition?patient=edu-knee-medicare&clinical-status=resolved", set()),
        ("Coverage?patient=edu-dm-commercial&status=active", {"cov-edu-dm-commercial"}),
        ("Coverage?patient=edu-dm-commercial&status=cancelled", set()),
        ("ServiceRequest?patient=edu-dm-commercial&status=active", {"sr-dm-commercial-dsme"}),
        ("ServiceRequest?patient=edu-dm-commercial&status=completed", set()),
        ("PractitionerRole?practitioner=Practitioner/rn-okafor", {"role-rn-okafor"}),
    ],
)
def test_seeded_searches_select_exactly_the_matching_resources(
    store: Ehr, query: str, expected: set[str]
) -> None:
    assert ids(store, query) == expected


def test_condition_search_by_encounter_returns_only_that_encounters_diagnoses(store: Ehr) -> None:
    for ref in ("enc-knee-medicare-0216", "Encounter/enc-knee-medicare-0216"):
        found = matches(store, f"Condition?encounter={ref}")
        assert "dx-knee-medicare-m1711" in {r["id"] for r in found}
        assert all(r["encounter"]["reference"] == "Encounter/enc-knee-medicare-0216" for r in found)


def test_written_resources_are_found_by_each_named_parameter(store: Ehr) -> None:
    charge = store.fhir_send("POST", "ChargeItem", CHARGE).json()["id"]
    other = copy.deepcopy(CHARGE)
    other["identifier"][0]["value"] = "charge-2"
    other["code"]["coding"][0]["code"] = "98961"
    other["subject"]["reference"] = "Patient/edu-knee-medicare"
    other["context"]["reference"] = "Encounter/enc-knee-medicare-0216"
    del other["supportingInformation"]
    other_id = store.fhir_send("POST", "ChargeItem", other).json()["id"]
    doc_body = copy.deepcopy(DOC)
    doc = store.fhir_send("POST", "DocumentReference", doc_body).json()["id"]
    prov = {"resourceType": "Provenance", "target": [{"reference": f"ChargeItem/{charge}"}],
            "recorded": "2026-03-02T10:00:00Z",
            "agent": [{"who": {"reference": "Practitioner/rn-okafor"}}]}  # fmt: skip
    prov_id = store.fhir_send("POST", "Provenance", prov).json()["id"]

    assert ids(store, "ChargeItem?patient=edu-dm-commercial") == {charge}
    assert ids(store, "ChargeItem?context=Encounter/enc-knee-medicare-0216") == {other_id}
    assert ids(store, "ChargeItem?code=http://www.ama-assn.org/go/cpt|98960") == {charge}
    assert ids(store, "ChargeItem?identifier=urn:smart-edu:test|charge-2") == {other_id}
    assert ids(store, "ChargeItem?identifier=urn:smart-edu:test|charge-3") == set()
    assert ids(store, "DocumentReference?patient=edu-dm-commercial") == {doc}
    assert ids(store, "DocumentReference?encounter=enc-dm-commercial-0302") == {doc}
    assert ids(store, "DocumentReference?identifier=urn:smart-edu:test|doc-1") == {doc}
    assert ids(store, "DocumentReference?type=http://loinc.org|34895-3") == {doc}
    assert ids(store, "DocumentReference?type=http://loinc.org|11506-3") == set()
    assert ids(store, "DocumentReference?encounter=enc-knee-medicare-0216") == set()
    assert ids(store, f"Provenance?target=ChargeItem/{charge}") == {prov_id}
    assert ids(store, f"Provenance?target=ChargeItem/{other_id}") == set()
