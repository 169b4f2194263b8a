"""A signed visit on every write strategy: ONE note, one ChargeItem per line, one Provenance, never twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from billing_rules import evaluate_visit, parse_visit_record
from billing_rules.model import ClinicalContext, Order, Payer, Provider
from smart_app.fhir_client import FhirClient
from smart_app.store import Database
from smart_app.writeback import (
    RefusedBeforeSending,
    SignedService,
    audit,
    build_plan,
    charge_summary_csv,
    list_outbox,
    retry_outbox_entry,
    write_signed_service,
)
from smart_app.writeback.identifiers import business_id, visit_record_hash
from smart_app.writeback.times import ehr_zone
from tests.http.test_writeback_fake import BASE, FakeFhir, epic_caps, hapi_caps, oracle_caps
from tests.http.test_writeback_strategies import EPIC, HAPI, HAPI_NO_TX, ORACLE, TENANT, new_db, writes
from tests.unit.test_write_factories import EST, ISSUER, signed

DAY = date(2026, 3, 2)
START = datetime(2026, 3, 2, 9, 0, tzinfo=EST)
END = datetime(2026, 3, 2, 10, 5, tzinfo=EST)
SIGNED = datetime(2026, 3, 2, 10, 20, tzinfo=EST)
VISIT = {
    "service_date": DAY.isoformat(),
    "provider_role": "PT",
    "diagnoses": ["M17.11"],
    "plan_of_care_certified": True,
    "therapy_ytd_allowed": 300,
    "services": [
        {"code": "97110", "minutes": 33},
        {"code": "97112", "minutes": 24, "provider_role": "PTA"},
        {"code": "97140", "minutes": 15},
    ],
}
ORDER = Order(
    "o1", text="PT eval and treat", status="active", intent="order", authored_on=DAY, requester_role="MD"
)
CODES = ["97110", "97112", "97140"]


def signed_visit(**changes: Any) -> SignedService:
    visit = parse_visit_record(VISIT)
    ctx = ClinicalContext(payer=Payer("medicare"), provider=Provider("PT"), orders=(ORDER,))
    ev = evaluate_visit(visit, ctx, as_of=DAY)
    assert ev.billable, [(f.rule, f.message) for f in ev.findings if f.severity == "block"]
    base: dict[str, Any] = {
        "record": visit,
        "evaluation": ev,
        "note_text": "Therapy daily note\n97110 therapeutic exercise 33 min\n",
        "draft_id": "visit-draft-1",
        "start": START,
        "end": END,
        "signed_at": SIGNED,
        "diagnosis_labels": {"M17.11": "Unilateral primary osteoarthritis, right knee"},
        "code_text": {"97110": "therapeutic exercise", "97112": "neuromuscular re-education"},
    }
    return signed(**{**base, **changes})


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = new_db(tmp_path / "visit.db")
    yield database
    database.dispose()


def client() -> FhirClient:
    return FhirClient(BASE, sleep=lambda _s: None)


def one_visit(fake: FakeFhir, *, charges: int = 3, provenance: int = 1) -> None:
    assert len(fake.of_type("DocumentReference")) == 1
    assert sorted(c["code"]["coding"][0]["code"] for c in fake.of_type("ChargeItem")) == CODES[:charges]
    assert len(fake.of_type("Provenance")) == provenance


def test_the_visit_has_the_cms_allocation_and_three_lines() -> None:
    units = {line.code: (line.units, line.modifiers) for line in signed_visit().evaluation.charge_lines}
    assert units == {"97110": (2, ("GP",)), "97112": (2, ("GP", "CQ")), "97140": (1, ("GP",))}


def test_identifiers_are_per_visit_and_code_and_apart_from_the_single_service_scheme() -> None:
    plan = build_plan(signed_visit(), HAPI, "transaction")
    ids = {e.key: e.identifier for e in plan.entries}
    assert list(ids) == ["note", "charge-0", "charge-1", "charge-2", "provenance"]
    assert ids["note"].startswith("vnote-") and ids["provenance"].startswith("vprov-")
    assert plan.write_key.startswith("vjob-")
    expected = business_id(
        "vcharge", issuer=ISSUER, patient_id="example", encounter_id="example-1", code="97112",
        service_date=DAY, draft_id="visit-draft-1",
    )  # fmt: skip
    assert ids["charge-1"] == expected
    again = build_plan(signed_visit(signed_at=SIGNED), HAPI, "transaction")
    assert {e.key: e.identifier for e in again.entries} == ids
    other = build_plan(signed_visit(draft_id="visit-draft-2"), HAPI, "transaction")
    assert not {e.identifier for e in other.entries} & set(ids.values())


def test_the_charge_ids_of_a_code_do_not_move_when_a_line_is_added_before_it() -> None:
    three = {e.resource["code"]["coding"][0]["code"]: e.identifier for e in _charges(signed_visit())}
    visit = {**VISIT, "services": [{"code": "97530", "minutes": 15}, *VISIT["services"]]}
    record = parse_visit_record(visit)
    ctx = ClinicalContext(payer=Payer("medicare"), provider=Provider("PT"), orders=(ORDER,))
    four = _charges(signed_visit(record=record, evaluation=evaluate_visit(record, ctx, as_of=DAY)))
    for e in four:
        code = e.resource["code"]["coding"][0]["code"]
        if code in three:
            assert e.identifier == three[code]


def _charges(request: SignedService) -> list[Any]:
    return [e for e in build_plan(request, HAPI, "transaction").entries if e.key.startswith("charge-")]


# -- strategy 1: transaction


def test_transaction_writes_one_note_three_charges_and_one_provenance(db, rsps, tmp_path) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    result = write_signed_service(db, client(), HAPI, signed_visit())
    assert result.status == "written" and writes(fake) == [("POST", "")]
    one_visit(fake)
    note = result.ref("note")
    assert all(c["supportingInformation"] == [{"reference": note}] for c in fake.of_type("ChargeItem"))
    [prov] = fake.of_type("Provenance")
    assert [t["reference"] for t in prov["target"]] == [
        result.ref(k) for k in ("note", "charge-0", "charge-1", "charge-2")
    ]
    fresh = new_db(tmp_path / "empty.db")
    rerun = write_signed_service(fresh, client(), HAPI, signed_visit())
    fresh.dispose()
    assert rerun.status == "already-written"
    assert [rerun.ref(f"charge-{n}") for n in range(3)] == [result.ref(f"charge-{n}") for n in range(3)]
    one_visit(fake)


# -- strategy 2: sequential with the ledger


def test_sequential_writes_in_order_and_resumes_after_a_failure_on_the_second_charge(
    db, rsps, tmp_path
) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    fake.faults.append(("POST", "ChargeItem", "pass"))
    fake.faults.append(("POST", "ChargeItem", (503, {}, "busy")))
    first = write_signed_service(db, client(), HAPI_NO_TX, signed_visit())
    assert first.status == "queued-in-outbox"
    assert len(fake.of_type("ChargeItem")) == 1
    retried = retry_outbox_entry(db, client(), str(first.outbox_id))
    assert retried.status == "written"
    one_visit(fake)
    creates = [c for c in fake.calls if c[0] == "POST" and c[1]]
    assert creates.count(("POST", "DocumentReference")) == 1
    fresh = new_db(tmp_path / "empty.db")
    rerun = write_signed_service(fresh, client(), HAPI_NO_TX, signed_visit())
    fresh.dispose()
    assert rerun.status == "already-written"
    one_visit(fake)


# -- strategy 3: Oracle's $create


def test_oracle_creates_one_charge_event_per_line_and_a_lost_answer_is_not_resent(db, rsps, tmp_path) -> None:
    fake = FakeFhir(oracle_caps(), transactions=False, conditional=False).install(rsps)
    fake.faults.append(("POST", r"ChargeItem/\$create", "pass"))
    fake.faults.append(("POST", r"ChargeItem/\$create", "drop"))
    first = write_signed_service(db, client(), ORACLE, signed_visit())
    assert first.status == "queued-in-outbox"
    retried = retry_outbox_entry(db, client(), str(first.outbox_id))
    assert retried.status == "written"
    assert [c for c in fake.calls if c == ("POST", "ChargeItem/$create")] == [
        ("POST", "ChargeItem/$create")
    ] * 3
    one_visit(fake, provenance=0)
    codes = sorted(c["code"]["coding"][0]["code"] for c in fake.of_type("ChargeItem"))
    assert codes == CODES and all(
        c["code"]["coding"][0]["system"] == f"{TENANT}/CodeSystem/BillCodes-CPT"
        for c in fake.of_type("ChargeItem")
    )
    fresh = new_db(tmp_path / "empty.db")
    rerun = write_signed_service(fresh, client(), ORACLE, signed_visit())
    fresh.dispose()
    assert rerun.status == "queued-in-outbox" and rerun.question is not None  # asked, never a second line
    one_visit(fake, provenance=0)


# -- strategy 4: note only


def test_note_only_writes_one_note_and_the_summary_lists_every_line(db, rsps) -> None:
    fake = FakeFhir(epic_caps(), transactions=False, conditional=False, epic_answers=True).install(rsps)
    result = write_signed_service(db, client(), EPIC, signed_visit())
    assert result.status == "note-only" and fake.of_type("ChargeItem") == []
    assert len(fake.of_type("DocumentReference")) == 1
    rows = charge_summary_csv(
        result.charge_summary, patient_id="example", encounter_id="example-1"
    ).splitlines()
    assert [r.split(",")[3] for r in rows[1:]] == CODES
    assert rows[2].endswith(",2,GP CQ,11,M17.11")


def test_times_reach_the_note_with_their_offset(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    write_signed_service(db, client(), HAPI, signed_visit(start=START, end=END))
    [doc] = fake.of_type("DocumentReference")
    assert doc["context"]["period"] == {
        "start": "2026-03-02T09:00:00-05:00",
        "end": "2026-03-02T10:05:00-05:00",
    }


def test_visit_record_hash_is_stable_and_differs_by_service() -> None:
    one = parse_visit_record(VISIT)
    assert visit_record_hash(one) == visit_record_hash(parse_visit_record(VISIT))
    other = parse_visit_record({**VISIT, "services": VISIT["services"][:2]})
    assert visit_record_hash(one) != visit_record_hash(other) and visit_record_hash(one).startswith("vis-")


# -- times and refusals


def test_clock_times_get_the_ehrs_offset_or_fall_back_to_the_date(db, rsps) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    naive_start, naive_end = START.replace(tzinfo=None), END.replace(tzinfo=None)
    zone = ehr_zone("2026-03-02T08:55:00-06:00", "America/New_York")  # the encounter's offset wins
    write_signed_service(db, client(), HAPI, signed_visit(start=naive_start, end=naive_end, zone=zone))
    [doc] = fake.of_type("DocumentReference")
    assert doc["context"]["period"] == {
        "start": "2026-03-02T09:00:00-06:00",
        "end": "2026-03-02T10:05:00-06:00",
    }
    unplaced = build_plan(signed_visit(start=naive_start, end=naive_end, draft_id="d2"), HAPI, "transaction")
    assert unplaced.entries[0].resource["context"]["period"] == {"start": "2026-03-02", "end": "2026-03-02"}


def test_a_resource_that_would_not_validate_is_a_plain_message_an_audit_row_and_an_outbox_entry(
    db, rsps
) -> None:
    fake = FakeFhir(hapi_caps()).install(rsps)
    request = signed_visit(signed_at=SIGNED.replace(tzinfo=None))
    with pytest.raises(RefusedBeforeSending) as caught:
        write_signed_service(db, client(), HAPI, request)
    message = str(caught.value)
    assert message.startswith("The note could not be built for the EHR") and "the signing time" in message
    assert "pydantic" not in message and "validation error" not in message
    assert writes(fake) == []
    [row] = [r for r in audit.entries(db) if r["outcome"] == "refused"]
    assert row["write_key"].startswith("vjob-") and "DocumentReference" in row["message"]
    [entry] = list_outbox(db)
    assert entry.server_message == message
    retried = retry_outbox_entry(db, client(), entry.id)
    assert retried.status == "queued-in-outbox" and "signs it again" in (retried.server_message or "")
    assert writes(fake) == []
    write_signed_service(db, client(), HAPI, signed_visit())  # corrected and signed again: the entry is done
    assert list_outbox(db) == []
