"""Issue 13 end to end: ``fetch_to_directory`` against the real sandbox EHR on loopback, with SMART Backend
Services authorization (a registered ES384 backend client, JWKS in the sandbox), the seeded month exported at
the Group level, files downloaded and the job deleted; then the same data by paged search with $export off."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import ClientConfig, SandboxConfig
from sandbox_ehr.seed_src.build_month_charges import GROUP_ID
from sandbox_ehr.server import ServerThread
from smart_app.bulk import BulkServerError, Progress, fetch_to_directory
from smart_app.profiles import Profile, profile_from_mapping

pytestmark = pytest.mark.e2e
KEY = ECKey.generate_key("P-384", parameters={"kid": "scrub-e2e"}, private=True)
KEY_ENV = "TEST_E2E_BULK_KEY"
TYPES = ["Patient", "Encounter", "Condition", "Coverage", "ServiceRequest", "ChargeItem", "DocumentReference",
         "Practitioner", "PractitionerRole", "Organization"]  # fmt: skip


def serve(**config: Any) -> ServerThread:
    client = ClientConfig("smart-edu-scrub", "confidential-asymmetric", grant_types=["client_credentials"],
                          jwks={"keys": [KEY.as_dict(private=False)]}, scope="system/*.rs")  # fmt: skip
    server = ServerThread("127.0.0.1", 0)
    cfg = SandboxConfig(base_url=f"http://127.0.0.1:{server.port}", clients=[client], seed_month=True,
                        export_retry_after=0, **config)  # fmt: skip
    return server.serve(create_sandbox_app(cfg))


def profile_for(server: ServerThread, monkeypatch: pytest.MonkeyPatch, **backend: Any) -> Profile:
    monkeypatch.setenv(KEY_ENV, KEY.as_pem(private=True).decode())
    table = {"client_id": "smart-edu-scrub", "private_key_env": KEY_ENV, "key_id": "scrub-e2e",
             "alg": "ES384", "group_id": GROUP_ID, **backend}  # fmt: skip
    iss = server.app.extensions["sandbox"].config.fhir_base
    return profile_from_mapping({"name": "sandbox", "iss": iss, "client_id": "app", "scopes": ["openid"],
                                 "backend": table})  # fmt: skip


@pytest.fixture(scope="module")
def ehr() -> Iterator[ServerThread]:
    server = serve()
    yield server
    server.stop()


def lines(dest: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in dest.glob("*.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            counts[json.loads(line)["resourceType"]] += 1
    return counts


def test_group_export_end_to_end_with_backend_authorization(
    ehr: ServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = ehr.app.extensions["sandbox"]
    seen: list[Progress] = []
    result = fetch_to_directory(state.config.fhir_base, profile_for(ehr, monkeypatch), None, None, TYPES,
                                tmp_path, progress=seen.append)  # fmt: skip
    assert result.method == "bulk" and result.errors == []
    assert (tmp_path / "ChargeItem.2.ndjson").exists()  # more than one file per type
    assert lines(tmp_path) == Counter(result.counts)
    assert result.counts["ChargeItem"] == state.store.count("ChargeItem") >= 300
    group = state.store.read("Group", GROUP_ID)
    assert result.counts["Patient"] == len(group["member"]) < state.store.count("Patient")  # no Synthea
    assert len(state.exports) == 0  # the job was deleted
    [token] = state.tokens.issued(client_id="smart-edu-scrub")
    assert token.grant_type == "client_credentials" and "system/ChargeItem.rs" in token.scope.split()
    assert all(s.startswith("system/") for s in token.scope.split())
    assert any(p.stage == "waiting" for p in seen) and seen[-1].stage == "done"


def test_paged_search_gives_the_same_data_where_export_is_off(
    ehr: ServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    off = serve(bulk_export=False)
    try:
        base = off.app.extensions["sandbox"].config.fhir_base
        searched = fetch_to_directory(base, profile_for(off, monkeypatch), None, None, TYPES, tmp_path / "s")
        ehr_base = ehr.app.extensions["sandbox"].config.fhir_base
        exported = fetch_to_directory(
            ehr_base, profile_for(ehr, monkeypatch), None, None, TYPES, tmp_path / "e"
        )
    finally:
        off.stop()
    assert searched.method == "search" and exported.method == "bulk"
    shared = ("Practitioner", "PractitionerRole", "Organization")  # export: all; search: those referenced
    assert {k: v for k, v in searched.counts.items() if k not in shared} == {
        k: v for k, v in exported.counts.items() if k not in shared
    }

    def ids(dest: Path, rtype: str) -> set[str]:
        return {
            json.loads(line)["id"]
            for p in dest.glob(f"{rtype}*.ndjson")
            for line in p.read_text().splitlines()
        }

    for rtype in ("ChargeItem", "DocumentReference"):
        assert ids(tmp_path / "s", rtype) == ids(tmp_path / "e", rtype)
    charges = [json.loads(line) for p in (tmp_path / "s").glob("ChargeItem.*ndjson") for line in p.open()]
    performers = {c["performer"][0]["actor"]["reference"].split("/")[1] for c in charges}
    assert performers <= ids(tmp_path / "s", "Practitioner") <= ids(tmp_path / "e", "Practitioner")
    roles = ids(tmp_path / "s", "PractitionerRole")
    assert {f"role-{p}" for p in performers} <= roles <= ids(tmp_path / "e", "PractitionerRole")
    assert "org-riverside-clinic" in ids(tmp_path / "s", "Organization")


def test_a_client_without_chargeitem_scope_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = serve()
    try:
        state = server.app.extensions["sandbox"]
        state.config.clients[0].scope = "system/Patient.rs"
        with pytest.raises(BulkServerError, match="ChargeItem"):
            fetch_to_directory(
                state.config.fhir_base, profile_for(server, monkeypatch), None, None, TYPES, tmp_path
            )
    finally:
        server.stop()
