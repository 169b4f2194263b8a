"""Oracle Health ``$create``: a same-code same-day charge the ledger cannot explain is never guessed at.

Oracle keeps neither our identifier nor the CPT system on a charge, so with an empty local store (or beside a
genuinely separate session of the same code that day) the app cannot tell "already written" from "another
service". Taking it as written would lose a charge; writing would risk a duplicate. The write stops and the
clinician answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from smart_app.store import Database
from smart_app.writeback import ChargeDecision, list_outbox, pending_for_draft, retry_outbox_entry
from smart_app.writeback import write_signed_service as write
from tests.http.test_writeback_fake import FakeFhir, oracle_caps
from tests.http.test_writeback_strategies import ORACLE, client, new_db, one_each
from tests.unit.test_write_factories import signed


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = new_db(tmp_path / "writeback.db")
    yield database
    database.dispose()


@pytest.fixture
def fake() -> Iterator[FakeFhir]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeFhir(oracle_caps(), transactions=False, conditional=False).install(mock)


def creates(fake: FakeFhir) -> int:
    return fake.calls.count(("POST", "ChargeItem/$create"))


def test_rerun_with_an_empty_store_asks_instead_of_taking_the_charge_as_written(db, fake, tmp_path) -> None:
    first = write(db, client(), ORACLE, signed())
    assert first.status == "written"
    [charge] = fake.of_type("ChargeItem")
    fresh = new_db(tmp_path / "empty.db")
    rerun = write(fresh, client(), ORACLE, signed())
    assert rerun.status == "queued-in-outbox"
    assert rerun.question == {"key": "charge-0", "candidates": [f"ChargeItem/{charge['id']}"]}
    assert rerun.server_message is not None and "98960" in rerun.server_message
    assert pending_for_draft(fresh, "draft-1")  # the draft is kept until the clinician answers
    assert creates(fake) == 1 and len(fake.of_type("DocumentReference")) == 1  # nothing sent meanwhile
    answered = retry_outbox_entry(
        fresh,
        client(),
        str(rerun.outbox_id),
        decision=ChargeDecision("charge-0", ours=f"ChargeItem/{charge['id']}"),
    )
    assert answered.status == "already-written" and answered.ref("charge-0") == f"ChargeItem/{charge['id']}"
    assert creates(fake) == 1 and not pending_for_draft(fresh, "draft-1")
    fresh.dispose()
    one_each(fake, provenance=0)


def test_a_separate_same_code_session_is_written_once_the_clinician_says_so(db, fake) -> None:
    other = write(db, client(), ORACLE, signed(draft_id="morning-session"))
    assert other.status == "written"
    afternoon = write(db, client(), ORACLE, signed(draft_id="afternoon-session"))
    assert afternoon.status == "queued-in-outbox" and afternoon.question is not None
    assert afternoon.question["candidates"] == [other.ref("charge-0")]
    fake.faults.append(("POST", r"ChargeItem/\$create", "drop"))  # and the answer of the create is lost
    lost = retry_outbox_entry(db, client(), str(afternoon.outbox_id), decision=ChargeDecision("charge-0"))
    assert lost.status == "queued-in-outbox" and lost.question is None
    done = retry_outbox_entry(db, client(), str(afternoon.outbox_id))  # the decision was kept with the entry
    assert done.status == "written"
    assert done.ref("charge-0") not in (None, other.ref("charge-0"))
    assert creates(fake) == 2 and len(fake.of_type("ChargeItem")) == 2
    assert list_outbox(db) == []


def test_a_decision_naming_a_charge_that_is_not_a_candidate_is_refused(db, fake, tmp_path) -> None:
    write(db, client(), ORACLE, signed())
    fresh = new_db(tmp_path / "empty.db")
    rerun = write(fresh, client(), ORACLE, signed())
    with pytest.raises(ValueError, match="not a same-code"):
        retry_outbox_entry(
            fresh, client(), str(rerun.outbox_id), decision=ChargeDecision("charge-0", ours="ChargeItem/999")
        )
    with pytest.raises(ValueError, match="no charge"):
        retry_outbox_entry(fresh, client(), str(rerun.outbox_id), decision=ChargeDecision("note"))
    fresh.dispose()
    assert creates(fake) == 1


def test_a_lost_create_answer_is_still_recognised_without_asking(db, fake) -> None:
    fake.faults.append(("POST", r"ChargeItem/\$create", "drop"))
    first = write(db, client(), ORACLE, signed())
    assert first.status == "queued-in-outbox" and first.question is None
    again = retry_outbox_entry(db, client(), str(first.outbox_id))
    assert again.status == "written" and creates(fake) == 1


def test_the_command_line_retry_says_the_question_is_answered_in_the_app(
    fake, tmp_path, monkeypatch, capsys
) -> None:
    from smart_app.cli import main
    from smart_app.writeback.local_store import open_database

    monkeypatch.setenv("SMART_EDU_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("SMART_EDU_BEARER_TOKEN", raising=False)
    first = new_db(tmp_path / "first.db")
    write(first, client(), ORACLE, signed())  # the charge is on the server
    first.dispose()
    store = open_database()
    asked = write(store, client(), ORACLE, signed())  # a store that does not know it
    store.dispose()
    assert asked.question is not None
    assert main(["outbox", "retry"]) == 3
    err = capsys.readouterr().err
    assert "answers this question on the app's result page" in err and "98960" in err
    assert creates(fake) == 1
