"""``smart-edu check`` reads the bundle's ChargeItems (issue 3: the bundle holds them): a billable charge of
the same code, patient and day is a possible duplicate (warn); a voided one, or one on another day, is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_json
from tests.unit.test_check_cli import (
    SERVICE,
    US,
    clinical_resources,
    rules,
    run_check,
    us_core_coverage,
    write_bundle,
)

CPT = "http://www.ama-assn.org/go/cpt"


def bundle_with_charge(tmp_path: Path, status: str, day: str) -> Path:
    patient = load_json(f"{US}/patient-example.json")
    charge = {
        "resourceType": "ChargeItem",
        "id": "earlier-charge",
        "status": status,
        "code": {"coding": [{"system": CPT, "code": "98960"}]},
        "subject": {"reference": f"Patient/{patient['id']}"},
        "occurrenceDateTime": day,
    }
    resources = clinical_resources(
        patient, us_core_coverage("2"), load_json(f"{US}/organization-acme-payer.json")
    )
    return write_bundle(tmp_path, [*resources, charge])


@pytest.mark.parametrize(
    ("status", "day", "duplicate"),
    [
        ("billable", "2026-03-10", True),
        ("entered-in-error", "2026-03-10", False),
        ("billable", "2026-03-09", False),
    ],
)
def test_a_charge_in_the_bundle_is_checked_for_a_duplicate(
    tmp_path: Path, capsys: Any, status: str, day: str, duplicate: bool
) -> None:
    code, out, err = run_check(
        capsys, "--bundle", bundle_with_charge(tmp_path, status, day), "--service", SERVICE
    )
    found = rules(json.loads(out))
    assert code == 0 and err == "" and ("duplicate.charge" in found) is duplicate
    if duplicate:  # a warn (rules-contract §3: a second session on one day can be real)
        assert found["duplicate.charge"] == "warn"
