"""The launch profiles' [writeback] sections map onto the write strategies."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from fhir_mappings.write import BillCode
from smart_app.fhir_client import FhirClient
from smart_app.profiles import load_profiles
from smart_app.resources import launch_config_dir
from smart_app.writeback import WritebackConfig, WritebackConfigError, choose_strategy
from smart_app.writeback.config import server_takes_provenance
from tests.conftest import load_json

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
    cdm = WritebackConfig(chargeitem="operation", bill_code_system="https://x/CodeSystem/BillCodes-CDM_SCHED")
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
    oracle = WritebackConfig.from_capabilities(client_with(ORACLE_CAPS))
    assert (oracle.chargeitem, oracle.transaction) == ("operation", False)
    assert not server_takes_provenance(oracle, client_with(ORACLE_CAPS))


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
