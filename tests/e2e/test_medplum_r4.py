"""Everything a visit writes, validated by an independent FHIR validator: Medplum's (@medplum/core) with the
published R4 definitions, run in node (installed by the Makefile's ``axe`` target; no network at test time).
ChargeItem is not profiled by US Core, so base R4 is its standard; the US Core profiles of the note and the
Provenance are checked in tests/unit/test_us_core_conformance.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from smart_app.writeback import build_plan
from smart_app.writeback.config import WritebackConfig
from tests.http.test_writeback_strategies import ORACLE as ORACLE_CONFIG
from tests.http.test_writeback_visit import signed_visit

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "node" / "validate_r4.cjs"
MEDPLUM = ROOT / "node_modules" / "@medplum" / "core"


def validate(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None or not MEDPLUM.exists():
        pytest.fail("node or @medplum/core is missing: run `make axe` (npm install into node_modules/)")
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def plan_resources(**changes: Any) -> list[dict[str, Any]]:
    plan = build_plan(
        signed_visit(**changes), WritebackConfig(transaction=True, conditional_create=True), "transaction"
    )
    return [e.resource for e in plan.entries]


def test_a_visits_note_charges_and_provenance_are_valid_r4() -> None:
    resources = plan_resources(organization=None, organization_name="Riverside Clinic")
    assert [r["resourceType"] for r in resources] == [
        "DocumentReference", "ChargeItem", "ChargeItem", "ChargeItem", "Provenance",
    ]  # fmt: skip
    results = validate(resources + plan_resources(organization="Organization/org-1", fhir_user=None))
    assert {r["resource"] for r in results} >= {
        "Provenance/contained Device",
        "Provenance/contained Organization",
    }
    assert [r for r in results if r["issues"]] == []


def test_oracles_create_parameters_are_valid_r4() -> None:
    plan = build_plan(signed_visit(), ORACLE_CONFIG, "operation")
    bodies = [e.operation_body for e in plan.entries if e.operation_body is not None]
    assert len(bodies) == 3
    assert [r for r in validate(bodies) if r["issues"]] == []


def test_the_validator_finds_what_is_wrong() -> None:
    """Not a validator that passes everything: a missing required element, a value of the wrong type and an
    unknown element are reported (like fhir.resources, it does not check codes against value sets)."""
    charge = plan_resources()[1]
    broken = {k: v for k, v in charge.items() if k != "subject"} | {"quantity": {"value": "two"}, "units": 2}
    [result] = validate([broken])
    text = " ".join(result["issues"])
    assert "ChargeItem.subject" in text and "quantity" in text and "units" in text, result
