"""The launch profiles' [writeback] sections map onto the write strategies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses

from fhir_mappings.write import BillCode
from smart_app.fhir_client import FhirClient
from smart_app.profiles import load_profiles
from smart_app.resources import launch_config_dir
from smart_app.writeback import WritebackConfig, WritebackConfigError, build_plan, choose_strategy
from smart_app.writeback.config import server_takes_provenance
from smart_app.writeback.plan import WritePlan
from tests.conftest import load_json
from tests.http.test_writeback_fake import epic_caps
from tests.unit.test_write_factories import signed

BASE = "https://ehr.test/fhir"


def profiles() -> dict[str, WritebackConfig]:
    return {p.name: WritebackConfig.from_profile(p.writeback) for p in load_profiles(launch_config_dir())}


def client_with(caps: dict[str, object]) -> FhirClient:
    rsps = responses.RequestsMock()
    rsps.start()
    rsps.get(f"{BASE}/metadata", json=caps)
    client = FhirClient(BASE)
    client.capabilities()
    rsps.stop()
    return client


HAPI_CAPS = load_json("fixtures/capabilitystatement.smart-health-it-r4-sandbox.trimmed.json")
ORACLE_CAPS = load_json("fixtures/capabilitystatement.oracle-health-sandbox.trimmed.json")


def test_each_packaged_profile_leads_to_its_documented_strategy() -> None:
    configs = profiles()
    hapi, oracle = client_with(HAPI_CAPS), client_with(ORACLE_CAPS)
    by_name = dict(configs)
    epic = next(c for n, c in by_name.items() if "epic" in n)
    oracle_cfg = next(c for n, c in by_name.items() if "oracle" in n)
    hapi_cfg = next(c for n, c in by_name.items() if "hapi" in n)
    assert choose_strategy(epic, hapi, note_only=False) == "note-only"
    assert choose_strategy(oracle_cfg, oracle, note_only=False) == "operation"
    assert choose_strategy(hapi_cfg, hapi, note_only=False) == "transaction"
    assert choose_strategy(hapi_cfg, oracle, note_only=False) == "sequential"  # the server decides too
    assert choose_strategy(hapi_cfg, hapi, note_only=True) == "note-only"
    assert epic.note_content_type == "text/plain"


def test_oracle_bill_codes_come_from_the_tenant_system() -> None:
    oracle_cfg = next(c for n, c in profiles().items() if "oracle" in n)
    code = oracle_cfg.bill_code("98960")
    assert code.code == "98960" and code.system.endswith("/CodeSystem/BillCodes-CPT")
    assert str(oracle_cfg.sibling_system("ICD")).endswith("/CodeSystem/BillCodes-ICD")
    cdm = WritebackConfig(
        chargeitem="operation",
        chargeitem_status="unknown",
        bill_code_system="https://x/CodeSystem/BillCodes-CDM_SCHED",
    )
    with pytest.raises(WritebackConfigError):
        cdm.bill_code("98960")
    mapped = WritebackConfig(
        bill_codes={"98960": BillCode("https://x/CodeSystem/BillCodes-CDM_SCHED", "0101")}
    )
    assert mapped.bill_code("98960").code == "0101"


def test_capabilities_alone_configure_sandbox_test() -> None:
    hapi = WritebackConfig.from_capabilities(client_with(HAPI_CAPS))
    assert (hapi.chargeitem, hapi.documentreference, hapi.transaction, hapi.conditional_create) == (
        "create",
        "create",
        True,
        True,
    )
    assert (hapi.chargeitem_status, hapi.charge_summary) == ("billable", False)
    oracle = WritebackConfig.from_capabilities(client_with(ORACLE_CAPS))
    assert (oracle.chargeitem, oracle.transaction) == ("operation", False)
    assert (oracle.chargeitem_status, oracle.charge_summary) == ("unknown", False)  # what $create accepts
    assert not server_takes_provenance(oracle, client_with(ORACLE_CAPS))
    epic = WritebackConfig.from_capabilities(client_with(epic_caps()))
    assert (epic.chargeitem, epic.charge_summary) == (
        "none",
        True,
    )  # no ChargeItem: shown what the biller gets


def test_there_is_one_writeback_config_and_the_profile_holds_it() -> None:
    """Owned by the launch profile: a key the profile leaves out has the one default, declared once."""
    from smart_app import profiles
    from smart_app.writeback import config as writeback_config

    root = Path(__file__).resolve().parents[2] / "smart_app"
    declared = [
        p.name for p in root.rglob("*.py") if "class WritebackConfig" in p.read_text(encoding="utf-8")
    ]
    assert declared == ["config.py"] and profiles.WritebackConfig is writeback_config.WritebackConfig
    minimal = profiles.profile_from_mapping(
        {"name": "ehr", "iss": "https://ehr.test/fhir", "client_id": "app-1", "scopes": ["openid"]}
    )
    assert minimal.writeback == writeback_config.WritebackConfig()
    assert (minimal.writeback.transaction, minimal.writeback.conditional_create) == (False, False)
    cdm = {"system": "https://x/CodeSystem/BillCodes-CDM_SCHED", "code": "7"}
    writeback = {
        "chargeitem": "operation",
        "chargeitem_status": "unknown",
        "bill_code_system": "https://x/CodeSystem/BillCodes-CPT",
        "bill_codes": {"98960": cdm},
    }
    oracle = profiles.profile_from_mapping(
        {
            "name": "oracle",
            "iss": "https://ehr.test/fhir",
            "client_id": "a",
            "scopes": ["openid"],
            "writeback": writeback,
        }
    )
    assert oracle.writeback.chargeitem_status == "unknown"
    assert (
        oracle.writeback.bill_code("98960").code == "7"
        and oracle.writeback.bill_code("98961").code == "98961"
    )
    assert writeback_config.WritebackConfig.from_profile(oracle.writeback) is oracle.writeback


# -- chargeitem_status and charge_summary: each key changes what is written or handed on


def test_the_charge_status_is_the_profiles_and_oracle_gets_unknown_from_its_profile() -> None:
    planned = build_plan(signed(), WritebackConfig(chargeitem_status="planned"), "sequential")
    assert charge_of(planned)["status"] == "planned"
    default = build_plan(signed(), WritebackConfig(), "sequential")
    assert charge_of(default)["status"] == "billable"
    oracle = profiles()["oracle-health-sandbox"]  # launch_config/oracle-health-sandbox.toml
    assert oracle.chargeitem_status == "unknown"
    body = next(e for e in build_plan(signed(), oracle, "operation").entries if e.key == "charge-0")
    assert body.operation_body is not None
    assert body.operation_body["parameter"][0]["resource"]["status"] == "unknown"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"chargeitem_status": "entered-in-error"}, "is not one of billable, planned, unknown"),
        (
            {"chargeitem": "operation", "bill_code_system": "https://x/BillCodes-CPT"},
            "needs chargeitem_status",
        ),
        ({"chargeitem": "create", "charge_summary": True}, "charge_summary applies only where"),
        ({"chargeitem": "operation", "chargeitem_status": "unknown", "charge_summary": True}, "applies only"),
    ],
)
def test_a_key_that_would_do_nothing_or_be_refused_by_the_ehr_is_refused(
    keys: dict[str, object], message: str
) -> None:
    with pytest.raises(WritebackConfigError, match=message):
        WritebackConfig.from_mapping(keys)


@pytest.mark.parametrize("summary", [True, False])
def test_the_biller_gets_the_lines_only_where_the_profile_says_charge_summary(summary: bool) -> None:
    config = WritebackConfig(chargeitem="none", charge_summary=summary)
    plan = build_plan(signed(), config, "note-only")
    assert [e.key for e in plan.entries] == ["note", "provenance"]
    assert [c["code"] for c in plan.charge_summary] == ["98960"]  # the audit keeps the lines either way
    assert [c["code"] for c in plan.biller_summary()] == (["98960"] if summary else [])
    # a plan queued before the key was read (its JSON lacks it) hands its lines on, as it did then
    older = json.loads(plan.to_json())
    del older["summary_for_biller"]
    assert [c["code"] for c in WritePlan.from_json(json.dumps(older)).biller_summary()] == ["98960"]


def test_charges_written_are_never_also_handed_on() -> None:
    plan = build_plan(signed(), WritebackConfig(), "sequential")
    assert plan.charge_summary and plan.biller_summary() == []


def charge_of(plan: WritePlan) -> dict[str, Any]:
    return next(e.resource for e in plan.entries if e.key == "charge-0")
