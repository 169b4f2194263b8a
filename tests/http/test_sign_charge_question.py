"""The point-of-care page asks the clinician when Oracle Health already holds a same-code same-day charge
that the app's ledger cannot explain, and writes according to the answer (never a guess)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import responses
from flask import Flask

from smart_app import create_app
from smart_app.launches import db_of
from smart_app.point_of_care import context, drafts
from smart_app.reads import forget_capabilities
from tests.http.document_kit import ISS, FakeEhr, commercial_diabetes, csrf_of, launched
from tests.http.smart_kit import write_profile
from tests.http.test_document_sign import documented, review, sign_form

BILL_CODES = "https://fhir.cerner.com/tenant-1/CodeSystem/BillCodes-CPT"


def oracle_app(tmp_path: Path) -> Flask:
    forget_capabilities()
    context.forget()
    config_dir = tmp_path / "profiles"
    config_dir.mkdir()
    write_profile(config_dir, "test-ehr", client_auth="none")
    with (config_dir / "test-ehr.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[writeback]\nchargeitem = "operation"\nchargeitem_status = "unknown"\n')
        fh.write("transaction = false\n")
        fh.write(f'bill_code_system = "{BILL_CODES}"\n')
    return create_app(
        {
            "TESTING": True,
            "SMART_EDU_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "SMART_EDU_LAUNCH_CONFIG": str(config_dir),
            "SMART_EDU_BASE_URL": "https://app.test",
            "SMART_EDU_SECRET_KEY": "test-secret",
        }
    )


def stub_create(rsps: responses.RequestsMock, ehr: FakeEhr) -> None:
    """Oracle's ``$create``: a billable ChargeItem without our identifier, 200 with a Location, no body."""

    def create(request: Any) -> tuple[int, dict[str, str], str]:
        params = json.loads(request.body)
        item = next(p["resource"] for p in params["parameter"] if p["name"] == "chargeItem")
        saved = {**item, "status": "billable", "id": uuid.uuid4().hex[:12]}
        ehr.created.append(saved)
        return 200, {"Location": f"{ISS}/ChargeItem/{saved['id']}"}, ""

    rsps.add_callback(responses.POST, f"{ISS}/ChargeItem/$create", callback=create)


def sign_session(client: Any, handle: str) -> str:
    documented(client, handle)
    form = sign_form(review(client, handle))
    resp = client.post(f"/s/{handle}/sign", data=form)
    assert resp.status_code == 303
    return str(resp.headers["Location"])


def test_a_second_same_code_session_is_asked_about_and_written_only_when_the_clinician_says_separate(
    tmp_path: Path, rsps: Any
) -> None:
    app = oracle_app(tmp_path)
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    stub_create(rsps, ehr)
    morning = client.get(sign_session(client, handle)).get_data(as_text=True)
    assert "Signed and written" in morning and ehr.count("ChargeItem") == 1
    [first] = [r for r in ehr.created if r["resourceType"] == "ChargeItem"]
    page = client.get(sign_session(client, handle)).get_data(as_text=True)  # the afternoon session
    assert "Signed, not yet written" in page and f'value="ChargeItem/{first["id"]}"' in page
    assert ehr.count("ChargeItem") == 1
    retry_url = re.search(r'action="([^"]+/retry/[0-9a-f]+)"', page)[1]  # type: ignore[index]
    assert (
        client.post(retry_url, data={"csrf_token": csrf_of(page), "answer": "ChargeItem/forged"}).status_code
        == 400
    )
    client.post(retry_url, data={"csrf_token": csrf_of(page), "answer": "separate"})
    assert "Signed and written" in client.get(retry_url.replace("/retry/", "/result/")).get_data(as_text=True)
    assert ehr.count("ChargeItem") == 2 and ehr.count("DocumentReference") == 2
    draft_id = retry_url.rsplit("/", 1)[1]
    draft = drafts.get(db_of(app), draft_id)
    assert draft is not None and draft.status == drafts.SIGNED


def test_confirming_the_existing_charge_writes_no_second_one(tmp_path: Path, rsps: Any) -> None:
    app = oracle_app(tmp_path)
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    stub_create(rsps, ehr)
    sign_session(client, handle)
    [first] = [r for r in ehr.created if r["resourceType"] == "ChargeItem"]
    page = client.get(sign_session(client, handle)).get_data(as_text=True)
    retry_url = re.search(r'action="([^"]+/retry/[0-9a-f]+)"', page)[1]  # type: ignore[index]
    client.post(retry_url, data={"csrf_token": csrf_of(page), "answer": f"ChargeItem/{first['id']}"})
    result = client.get(retry_url.replace("/retry/", "/result/")).get_data(as_text=True)
    assert "Signed and written" in result and f"ChargeItem/{first['id']}" in result
    assert ehr.count("ChargeItem") == 1
