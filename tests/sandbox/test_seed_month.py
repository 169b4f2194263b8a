"""Issue 13: the seeded month of a clinic's charges is what its build script makes, valid FHIR R4, and really
holds what a biller must catch (the planted cases fire the engine's rules; a clean charge does not)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from billing_rules.engine import evaluate
from billing_rules.model import ServiceRecord
from fhir_mappings import extensions as ext
from fhir_mappings.read import context_from_resources
from sandbox_ehr.seed_src import build_month_charges as month

SEED = Path(__file__).resolve().parents[2] / "sandbox_ehr" / "seed"


def resources(name: str) -> list[dict[str, Any]]:
    bundle = json.loads((SEED / name).read_text(encoding="utf-8"))
    return [e["resource"] for e in bundle["entry"]]


MONTH = resources("month_charges.json")
SHARED = [r for r in resources("edu_cases.json") if r["resourceType"] in ("Practitioner", "PractitionerRole",
                                                                          "Organization")]  # fmt: skip


def of(patient: str, rtype: str) -> list[dict[str, Any]]:
    def owner(r: dict[str, Any]) -> str:
        ref = (r.get("subject") or r.get("beneficiary") or {}).get("reference", "")
        return r["id"] if r["resourceType"] == "Patient" else ref.removeprefix("Patient/")

    return [r for r in MONTH if r["resourceType"] == rtype and owner(r) == patient]


def modifiers(charge: dict[str, Any]) -> list[str]:
    subs: list[dict[str, Any]] = next(
        (e["extension"] for e in charge.get("extension", []) if e["url"] == ext.BILLING_DETAIL_URL), []
    )
    return [s["valueCoding"]["code"] for s in subs if s["url"] == ext.BILLING_DETAIL_MODIFIER]


def test_seed_file_is_what_the_script_builds() -> None:
    built = month.bundle()["entry"]
    assert built == json.loads((SEED / "month_charges.json").read_text())["entry"], (
        "the seed is stale (e.g. the app's note or ChargeItem builders changed): "
        "run python -m sandbox_ehr.seed_src.build_month_charges"
    )


@pytest.mark.parametrize("name", ["month_charges.json", "edu_cases.json"])
def test_seed_files_loaded_without_validation_are_valid_r4(name: str) -> None:
    for resource in resources(name):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_month_is_several_hundred_charges_with_notes_and_a_group() -> None:
    counts = Counter(r["resourceType"] for r in MONTH)
    march = [
        c for c in MONTH if c["resourceType"] == "ChargeItem" and c["occurrenceDateTime"][:7] == "2026-03"
    ]
    assert len(march) >= 300 and counts["DocumentReference"] >= 20 and counts["Group"] == 1
    by_app = [c for c in march if c.get("meta", {}).get("source") == ext.META_SOURCE]
    assert 0 < len(by_app) < len(march)  # some written by the app (with a note), some captured in the EHR
    notes = {r["id"] for r in MONTH if r["resourceType"] == "DocumentReference"}
    assert all(c["supportingInformation"][0]["reference"].split("/")[1] in notes for c in by_app)


def record_of(charge: dict[str, Any]) -> ServiceRecord:
    code = charge["code"]["coding"][0]["code"]
    per_unit = 30 if code.startswith("989") else 15
    return ServiceRecord(
        code=code, service_date=date.fromisoformat(charge["occurrenceDateTime"][:10]),
        minutes=charge["quantity"]["value"] * per_unit, curriculum="ADCES7", topics=("medications",),
        diagnoses=tuple(r["coding"][0]["code"] for r in charge["reason"]),
    )  # fmt: skip


def rules_for(patient: str) -> set[str]:
    [charge, *_] = of(patient, "ChargeItem")
    everything = [r for r in MONTH if r["resourceType"] != "ChargeItem"]
    context = context_from_resources(
        [*everything, *SHARED], patient_id=patient, encounter_id=charge["context"]["reference"].split("/")[1],
        practitioner_ref=charge["performer"][0]["actor"]["reference"],
    )  # fmt: skip
    return {f.rule for f in evaluate(record_of(charge), context).findings}


@pytest.mark.parametrize(
    ("patient", "rule"),
    [
        ("mo-edu-medicare", "payer.not-covered"),
        ("mo-edu-noorder", "order.missing"),
        ("mo-edu-np", "provider.wrong-family"),
        ("mo-pt-dxinvalid", "dx.invalid"),
        ("mo-pt-dxheader", "dx.not-billable"),
    ],
)
def test_planted_case_fires_its_rule(patient: str, rule: str) -> None:
    assert rule in rules_for(patient)
    assert patient in month.PLANTED


def test_a_clean_education_charge_fires_none_of_them() -> None:
    planted = {"payer.not-covered", "order.missing", "provider.wrong-family", "dx.invalid", "dx.not-billable"}
    assert not rules_for("mo-01-edu") & planted


def test_planted_duplicate_assistant_and_kx_cases() -> None:
    dup = Counter((c["code"]["coding"][0]["code"], c["occurrenceDateTime"][:10])
                  for c in of("mo-pt-duplicate", "ChargeItem"))  # fmt: skip
    assert dup[("97110", "2026-03-10")] == 2
    pta = [
        c
        for c in of("mo-pt-nocq", "ChargeItem")
        if c["performer"][0]["actor"]["reference"].endswith("pta-cho")
    ]
    assert pta and all("CQ" not in modifiers(c) for c in pta)
    assert of("mo-pt-nocq", "Coverage")[0]["type"]["coding"][0]["code"] == "121"  # Medicare FFS
    kx = of("mo-pt-kx", "ChargeItem")
    assert min(c["occurrenceDateTime"][:10] for c in kx) < "2026-02-01"  # the year's therapy before March
    assert sum(c["quantity"]["value"] for c in kx) * 30 > 2480 and not any("KX" in modifiers(c) for c in kx)
    medicare_pta = [c for c in MONTH if c["resourceType"] == "ChargeItem" and "CQ" in modifiers(c)]
    assert medicare_pta  # elsewhere the clinic gets CQ right
