"""A signed visit through Oracle Health's ``ChargeItem/$create`` against the sandbox EHR in its Oracle mode:
one note, one charge event per line; a rerun from the ledger writes nothing; a rerun with an empty store asks
line by line and, answered, writes nothing; an answer lost after commit is found, not sent again."""

from __future__ import annotations

from pathlib import Path

from smart_app.fhir_client import FhirClient
from smart_app.writeback import ChargeDecision, SignedService, retry_outbox_entry, write_signed_service
from tests.e2e.test_writeback_oracle_sandbox import (  # noqa: F401  (fixtures)
    ENCOUNTER,
    ORACLE,
    PATIENT,
    billable,
    db,
    ehr,
    new_db,
    oracle_ehr,
)
from tests.http.test_writeback_visit import signed_visit

CODES = ["97110", "97112", "97140"]


def visit(base: str, draft_id: str = "visit-oracle") -> SignedService:
    return signed_visit(
        issuer=base,
        patient_id=PATIENT,
        encounter_id=ENCOUNTER,
        fhir_user="Practitioner/pt-rivera",
        organization="Organization/org-riverside-clinic",
        draft_id=draft_id,
    )


def codes_on_server(client: FhirClient) -> list[str]:
    return sorted(c["code"]["coding"][0]["code"] for c in billable(client))


def test_a_visit_via_create_then_reruns_write_each_line_once(ehr, db, tmp_path: Path) -> None:  # noqa: F811
    base, state = ehr
    client = FhirClient(base)
    first = write_signed_service(db, client, ORACLE, visit(base))
    assert first.status == "written" and first.strategy == "operation", first.to_dict()
    assert codes_on_server(client) == CODES and state.store.count("DocumentReference") >= 1
    refs = [first.ref(f"charge-{n}") for n in range(3)]
    assert all(refs) and len(set(refs)) == 3

    again = write_signed_service(db, FhirClient(base), ORACLE, visit(base))
    assert again.status == "already-written" and [again.ref(f"charge-{n}") for n in range(3)] == refs

    empty = new_db(tmp_path / "empty.db")
    try:
        result = write_signed_service(empty, FhirClient(base), ORACLE, visit(base))
        asked = []
        while result.status == "queued-in-outbox" and result.question is not None:
            key, [candidate] = result.question["key"], result.question["candidates"]
            asked.append(key)
            decision = ChargeDecision(key, ours=candidate)
            result = retry_outbox_entry(empty, FhirClient(base), str(result.outbox_id), decision=decision)
        assert result.status == "already-written", result.to_dict()
        assert asked == ["charge-0", "charge-1", "charge-2"]
    finally:
        empty.dispose()
    assert codes_on_server(client) == CODES and state.store.count("ChargeItem") == 3


def test_a_lines_answer_lost_after_commit_is_found_and_not_sent_again(ehr, db) -> None:  # noqa: F811
    base, state = ehr
    state.faults.add(method="POST", path="/fhir/ChargeItem/$create", drop_after_commit=True, times=1)
    client = FhirClient(base)
    lost = write_signed_service(db, client, ORACLE, visit(base, "visit-oracle-lost"))
    assert lost.status == "queued-in-outbox" and lost.question is None
    retried = retry_outbox_entry(db, FhirClient(base), str(lost.outbox_id))
    assert retried.status == "written", retried.to_dict()
    assert codes_on_server(client) == CODES and state.store.count("ChargeItem") == 3
