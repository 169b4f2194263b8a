"""Each write strategy against stubs of HAPI, Epic and Oracle Health: one charge and one note, always."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from billing_rules.model import Finding
from smart_app.fhir_client import FhirClient
from smart_app.profiles import load_profiles
from smart_app.resources import launch_config_dir
from smart_app.store import Base, Database
from smart_app.writeback import (
    Acknowledgement,
    BlockedChargeError,
    SignedService,
    WritebackConfig,
    audit,
    build_plan,
    charge_summary_csv,
    execute_plan,
    list_outbox,
    pending_for_draft,
    retry_outbox_entry,
    write_signed_service,
)
from tests.conftest import load_json
from tests.http.test_writeback_fake import BASE, FakeFhir, epic_caps, hapi_caps, oracle_caps
from tests.unit.test_write_factories import evaluation, line, signed

TENANT = "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d"
HAPI = WritebackConfig(transaction=True, conditional_create=True)
HAPI_NO_TX = WritebackConfig(transaction=False)
EPIC = WritebackConfig(
    chargeitem="none",
    charge_summary=True,
    transaction=False,
    provenance=False,
    note_content_type="text/plain",
)
ORACLE = WritebackConfig.from_mapping(
    {
        "chargeitem": "operation",
        "chargeitem_status": "unknown",
        "transaction": False,
        "bill_code_system": f"{TENANT}/CodeSystem/BillCodes-CPT",
    }
)


def new_db(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    Base.metadata.create_all(db.engine)
    return db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = new_db(tmp_path / "writeback.db")
    yield database
    database.dispose()


def client() -> FhirClient:
    return FhirClient(BASE, sleep=lambda _s: None)


def writes(fake: FakeFhir) -> list[tuple[str, str]]:
    return [c for c in fake.calls if c != ("GET", "metadata")]


def one_each(fake: FakeFhir, *, provenance: int = 1) -> None:
    assert len(fake.of_type("DocumentReference")) == 1
    assert len(fake.of_type("ChargeItem")) == 1
    assert len(fake.of_type("Provenance")) == provenance


# -- strategy 1: transaction (HAPI)


def test_transaction_writes_note_charge_and_provenance_in_one_round_trip(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    result = write_signed_service(db, client(), HAPI, signed())
    assert result.status == "written" and result.strategy == "transaction"
    assert writes(fake) == [("POST", "")]
    one_each(fake)
    [charge] = fake.of_type("ChargeItem")
    [prov] = fake.of_type("Provenance")
    assert charge["supportingInformation"] == [{"reference": result.ref("note")}]
    assert charge["note"][0]["text"] == "Checked by smart-edu-billing rules 2026.1 before signing."
    assert [t["reference"] for t in prov["target"]] == [result.ref("note"), result.ref("charge-0")]


def test_transaction_rerun_with_an_empty_local_store_finds_what_the_server_holds(db, rsps, tmp_path) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    first = write_signed_service(db, client(), HAPI, signed())
    again = write_signed_service(db, client(), HAPI, signed())  # same store: answered from the ledger
    fresh = new_db(tmp_path / "empty.db")
    rerun = write_signed_service(fresh, client(), HAPI, signed())
    fresh.dispose()
    assert again.status == rerun.status == "already-written"
    assert rerun.ref("charge-0") == first.ref("charge-0")
    one_each(fake)


def test_transaction_response_lost_after_commit_is_looked_up_not_resent(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    fake.faults.append(("POST", "", "drop"))
    result = write_signed_service(db, client(), HAPI, signed())
    assert result.status == "written"
    assert writes(fake) == [("POST", ""), ("POST", "")]  # the transaction, then one batch of lookups
    one_each(fake)


def test_transaction_refused_by_hapi_goes_to_the_outbox_with_its_message(db, rsps) -> None:
    fake = FakeFhir(hapi_caps(), missing={"Encounter/example-1"}).install(rsps)
    result = write_signed_service(db, client(), HAPI, signed())
    assert result.status == "queued-in-outbox" and result.http_status == 400
    assert "HAPI-1094" in (result.server_message or "")
    [entry] = list_outbox(db)
    assert entry.id == result.outbox_id and "HAPI-1094" in entry.server_message
    assert pending_for_draft(db, "draft-1")
    assert fake.store == {}
    fake.missing.clear()  # the encounter exists now: the retry succeeds
    retried = retry_outbox_entry(db, client(), entry.id)
    assert retried.status == "written"
    assert list_outbox(db) == [] and not pending_for_draft(db, "draft-1")
    one_each(fake)


# -- strategy 2: sequential with the ledger


def test_sequential_looks_up_once_then_creates_in_a_fixed_order(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    result = write_signed_service(db, client(), HAPI_NO_TX, signed())
    assert result.status == "written" and result.strategy == "sequential"
    assert writes(fake) == [
        ("POST", ""),  # one batch of identifier searches
        ("POST", "DocumentReference"),
        ("POST", "ChargeItem"),
        ("POST", "Provenance"),
    ]
    [charge] = fake.of_type("ChargeItem")
    assert charge["supportingInformation"] == [{"reference": result.ref("note")}]
    one_each(fake)


def test_sequential_resumes_after_a_failure_without_repeating_finished_steps(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    fake.faults.append(("POST", "ChargeItem", (503, {}, "")))
    first = write_signed_service(db, client(), HAPI_NO_TX, signed())
    assert first.status == "queued-in-outbox" and first.http_status == 503
    fake.calls.clear()
    again = retry_outbox_entry(db, client(), str(first.outbox_id))
    assert again.status == "written"
    assert ("POST", "DocumentReference") not in fake.calls
    one_each(fake)


def test_sequential_charge_committed_but_answer_lost_is_found_not_recreated(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    fake.faults.append(("POST", "ChargeItem", "drop"))
    first = write_signed_service(db, client(), HAPI_NO_TX, signed())
    assert first.status == "queued-in-outbox" and first.http_status is None
    retried = retry_outbox_entry(db, client(), str(first.outbox_id))
    assert retried.status == "written"
    one_each(fake)


def test_sequential_rerun_with_an_empty_store_creates_nothing(db, rsps, tmp_path) -> None:
    fake = FakeFhir(hapi_caps(), transactions=False, conditional=False).install(rsps)
    write_signed_service(db, client(), HAPI_NO_TX, signed())
    fresh = new_db(tmp_path / "empty.db")
    fake.calls.clear()
    rerun = write_signed_service(fresh, client(), HAPI_NO_TX, signed())
    fresh.dispose()
    assert rerun.status == "already-written"
    assert not [c for c in fake.calls if c[0] == "POST"]
    one_each(fake)


# -- strategy 3: Oracle Health ChargeItem/$create


def test_oracle_operation_writes_note_then_charge_and_a_rerun_asks_before_anything(
    db, rsps, tmp_path
) -> None:
    fake = FakeFhir(oracle_caps(), transactions=False, conditional=False).install(rsps)
    result = write_signed_service(db, client(), ORACLE, signed())
    assert result.status == "written" and result.strategy == "operation"
    assert ("POST", "ChargeItem/$create") in fake.calls
    [charge] = fake.of_type("ChargeItem")
    assert charge["code"]["coding"] == [{"system": f"{TENANT}/CodeSystem/BillCodes-CPT", "code": "98960"}]
    assert charge["reason"][0]["coding"] == [
        {"system": f"{TENANT}/CodeSystem/BillCodes-ICD", "code": "E11.9"}
    ]
    assert result.ref("charge-0") == f"ChargeItem/{charge['id']}"
    fresh = new_db(tmp_path / "empty.db")
    rerun = write_signed_service(fresh, client(), ORACLE, signed())
    fresh.dispose()
    # An empty store cannot tell this charge from a separate same-code one: asked, never guessed (see
    # test_writeback_charge_question.py).
    assert rerun.status == "queued-in-outbox" and rerun.question is not None
    one_each(fake, provenance=0)


def test_oracle_error_body_reaches_the_outbox(db, rsps) -> None:
    fake = FakeFhir(oracle_caps(), transactions=False, conditional=False).install(rsps)
    outcome = json.dumps(load_json("fixtures/operationoutcome.oracle-health-required-field.json"))
    fake.faults.append(
        ("POST", "DocumentReference", (500, {"Content-Type": "application/fhir+json"}, outcome))
    )
    result = write_signed_service(db, client(), ORACLE, signed())
    assert result.status == "queued-in-outbox" and result.http_status == 500
    assert result.server_message == "HTTP 500: required"  # Oracle's issue has a code and a location only
    assert fake.of_type("ChargeItem") == []  # the note comes first; no charge without it


# -- strategy 4: note only (Epic)


def test_epic_gets_the_note_and_the_biller_gets_a_charge_summary(db, rsps) -> None:
    fake = FakeFhir(epic_caps(), transactions=False, conditional=False, epic_answers=True).install(rsps)
    result = write_signed_service(db, client(), EPIC, signed())
    assert result.status == "note-only"
    assert result.ref("note") == "DocumentReference/100"
    assert fake.of_type("ChargeItem") == []
    [doc] = fake.of_type("DocumentReference")
    assert doc["content"][0]["attachment"]["contentType"] == "text/plain"
    csv_text = charge_summary_csv(result.charge_summary, patient_id="example", encounter_id="example-1")
    assert csv_text.splitlines()[1] == (
        "example,example-1,2015-11-01,98960,"
        '"Patient self-management education, individual, each 30 minutes",1,,11,E11.9'
    )


@pytest.mark.parametrize("summary", [True, False])
def test_the_biller_gets_the_summary_only_where_the_profile_says_so_also_after_a_retry(
    db, rsps, summary: bool
) -> None:
    fake = FakeFhir(epic_caps(), transactions=False, conditional=False, epic_answers=True).install(rsps)
    fake.faults.append(("POST", "DocumentReference", (503, {}, "down")))
    config = replace(EPIC, charge_summary=summary)
    queued = write_signed_service(db, client(), config, signed())
    assert queued.status == "queued-in-outbox" and queued.outbox_id is not None
    result = retry_outbox_entry(db, client(), queued.outbox_id)  # the plan kept the profile's choice
    assert result.status == "note-only" and len(fake.of_type("DocumentReference")) == 1
    assert [c["code"] for c in result.charge_summary] == (["98960"] if summary else [])
    assert fake.of_type("ChargeItem") == []


@pytest.mark.parametrize("config", [HAPI, HAPI_NO_TX], ids=["transaction", "sequential"])
def test_each_charge_carries_the_profiles_chargeitem_status(db, rsps, config: WritebackConfig) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    result = write_signed_service(db, client(), replace(config, chargeitem_status="planned"), signed())
    assert result.status == "written" and result.charge_summary == []  # written: nothing to hand on
    [charge] = fake.of_type("ChargeItem")
    assert charge["status"] == "planned"


def test_oracle_create_sends_the_status_its_packaged_profile_names(db, rsps) -> None:
    oracle = next(p for p in load_profiles(launch_config_dir()) if p.name == "oracle-health-sandbox")
    FakeFhir(oracle_caps(), transactions=False, conditional=False).install(rsps)
    result = write_signed_service(db, client(), oracle.writeback, signed())
    assert result.status == "written" and result.strategy == "operation"
    [call] = [c for c in rsps.calls if str(c.request.url).endswith("/ChargeItem/$create")]
    sent = json.loads(call.request.body)["parameter"][0]["resource"]
    assert sent["status"] == oracle.writeback.chargeitem_status == "unknown"


def test_a_blocked_evaluation_never_gets_a_charge(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    with pytest.raises(BlockedChargeError):
        write_signed_service(db, client(), HAPI, signed(evaluation=evaluation(blocked=True)))
    assert writes(fake) == []
    note_alone = write_signed_service(
        db, client(), HAPI, signed(evaluation=evaluation(blocked=True), note_only=True)
    )
    assert note_alone.status == "note-only" and note_alone.charge_summary == []  # nothing to hand on
    assert fake.of_type("ChargeItem") == [] and len(fake.of_type("DocumentReference")) == 1


# -- outbox triggers and the audit log


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            412,
            json.dumps({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "multiple matches"}]}),
        ),
        (401, ""),
        (502, "bad gateway"),
    ],
)
def test_failed_writes_are_queued_with_the_servers_words(db, rsps, status: int, body: str) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    fake.faults.append(("POST", "", (status, {}, body)))
    c = FhirClient(BASE, sleep=lambda _s: None, refresher=lambda: False)
    result = write_signed_service(db, c, HAPI, signed())
    assert result.status == "queued-in-outbox" and result.http_status == status
    assert str(status) in (result.server_message or "")
    if status == 412:
        assert "multiple matches" in (result.server_message or "")


def test_audit_rows_say_who_what_when_and_outcome_without_note_text(db, rsps) -> None:
    FakeFhir(hapi_caps()).install(rsps)
    request = signed(note_text="SECRET-NOTE-BODY")
    result = write_signed_service(db, client(), HAPI, request)
    rows = audit.entries(db, write_key=result.write_key)
    assert [r["action"] for r in reversed(rows)] == ["signed", "write-attempt", "write-result"]
    final = rows[0]
    assert final["who"] == "Practitioner/practitioner-1" and final["outcome"] == "written"
    charge = {"code": "98960", "units": 1, "modifiers": [], "diagnoses": ["E11.9"]}
    assert final["what"]["charges"] == [charge]
    assert {w["ref"] for w in final["what"]["written"]} == {r.ref for r in result.resources}
    assert "SECRET-NOTE-BODY" not in str(rows)


def warned_service(*acks: Acknowledgement) -> SignedService:
    warn = Finding(
        "time.near-threshold", "warn", "close to the minimum", "document the minutes", "minutes", "t"
    )
    base = evaluation(line())
    return signed(evaluation=replace(base, findings=(warn,)), acknowledgements=acks)


def test_the_signed_row_holds_the_acknowledged_warnings_before_anything_is_sent(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    ack = Acknowledgement("time.near-threshold", "Teach-back took the full 8 minutes")
    result = write_signed_service(db, client(), HAPI, warned_service(ack))
    rows = list(reversed(audit.entries(db, write_key=result.write_key)))
    assert [r["action"] for r in rows] == ["signed", "write-attempt", "write-result"]
    assert json.loads(rows[0]["message"]) == {
        "acknowledged": [{"rule": "time.near-threshold", "reason": "Teach-back took the full 8 minutes"}]
    }
    assert rows[1]["message"] is None and rows[2]["message"] is None  # the reasons sit in one row only
    one_each(fake)


@pytest.mark.parametrize(
    "ack",
    [Acknowledgement("payer.not-covered", "no such warning"), Acknowledgement("time.near-threshold", "  ")],
)
def test_an_acknowledgement_of_no_warning_or_without_reason_is_refused_before_anything(
    db, rsps, ack: Acknowledgement
) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    with pytest.raises(ValueError, match="acknowledgement"):
        write_signed_service(db, client(), HAPI, warned_service(ack))
    assert fake.calls == [] and audit.entries(db) == []


def test_provenance_is_left_out_where_the_server_does_not_take_it(db, rsps) -> None:
    caps = hapi_caps()
    caps["rest"][0]["resource"] = [r for r in caps["rest"][0]["resource"] if r["type"] != "Provenance"]
    fake = FakeFhir(caps).install(rsps)
    plan = build_plan(signed(), HAPI, "transaction")  # a caller that did not ask the server first
    assert plan.entries[-1].key == "provenance"
    assert execute_plan(db, client(), plan).status == "written"
    one_each(fake, provenance=0)


def test_fhir_user_is_written_relative_and_display_texts_never_become_references(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    request = signed(fhir_user=f"{BASE}/Practitioner/practitioner-1", organization="Acme Clinic")
    write_signed_service(db, client(), HAPI, request)
    [charge] = fake.of_type("ChargeItem")
    assert charge["enterer"] == {"reference": "Practitioner/practitioner-1"}
    assert "performingOrganization" not in charge


@pytest.mark.parametrize("config", [HAPI, HAPI_NO_TX], ids=["transaction", "sequential"])
def test_provenance_is_put_by_id_where_the_server_creates_on_update(db, rsps, tmp_path, config) -> None:
    caps = hapi_caps()
    next(r for r in caps["rest"][0]["resource"] if r["type"] == "Provenance")["updateCreate"] = True
    fake = FakeFhir(caps).install(rsps)
    first = write_signed_service(db, client(), config, signed())
    fresh = new_db(tmp_path / "empty.db")
    again = write_signed_service(fresh, client(), config, signed())
    fresh.dispose()
    assert first.status == "written" and first.ref("provenance") == again.ref("provenance")
    assert str(first.ref("provenance")).startswith("Provenance/prov-")
    one_each(fake)
    assert not [c for c in fake.calls if "_tag" in c[1]]


def test_oracle_create_answer_lost_is_found_by_bill_code_not_sent_twice(db, rsps) -> None:
    fake = FakeFhir(oracle_caps(), transactions=False, conditional=False).install(rsps)
    fake.faults.append(("POST", r"ChargeItem/\$create", "drop"))
    first = write_signed_service(db, client(), ORACLE, signed())
    assert first.status == "queued-in-outbox" and len(fake.of_type("ChargeItem")) == 1
    retried = retry_outbox_entry(db, client(), str(first.outbox_id))
    assert retried.status == "written"
    assert [c for c in fake.calls if c == ("POST", "ChargeItem/$create")] == [("POST", "ChargeItem/$create")]
    one_each(fake, provenance=0)
