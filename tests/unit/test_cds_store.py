"""Feedback is validated per the spec, stored once, summarised with ignored cards, and audited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smart_app.cds_hooks import store
from smart_app.cds_hooks.store import BadFeedback, IssuedCard
from smart_app.store import Database
from smart_app.writeback import audit

REQUEST = {
    "hook": "patient-view",
    "hookInstance": "h-1",
    "fhirServer": "https://ehr.test/fhir",
    "context": {"userId": "Practitioner/pr1", "patientId": "p1", "encounterId": "e1"},
}
OVERRIDE = {"system": "https://x.test/r", "code": "patient-declined", "display": "Patient declined education"}


@pytest.fixture
def db() -> Database:
    database = Database("sqlite://")
    database.create_all()
    return database


def issue(db: Database, *uuids: str) -> None:
    cards = [IssuedCard(u, "billable-education", "info", ("98960",), ("order.missing",)) for u in uuids]
    store.record_issued(db, "patient-view", REQUEST, cards)


def overridden(card: str, stamp: str = "2026-11-27T01:00:00Z", **extra: Any) -> dict[str, Any]:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": stamp, **extra}


def test_accepted_overridden_and_ignored_are_counted(db: Database) -> None:
    issue(db, "c1", "c2", "c3")
    items = store.parse_feedback(
        {
            "feedback": [
                {
                    "card": "c1",
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": "s1"}],
                    "outcomeTimestamp": "2026-11-27T01:00:00Z",
                },
                overridden("c2", overrideReason={"reason": OVERRIDE, "userComment": "next visit"}),
            ]
        }
    )
    assert store.record_feedback(db, "patient-view", items, client_iss=None) == 2
    summary = store.feedback_summary(db)["patient-view"]
    assert summary["issued"] == 3 and summary["accepted"] == 1 and summary["overridden"] == 1
    assert summary["overridden:patient-declined"] == 1 and summary["ignored"] == 1


def test_a_resent_report_is_stored_once(db: Database) -> None:
    issue(db, "c1")
    items = store.parse_feedback({"feedback": [overridden("c1")]})
    assert store.record_feedback(db, "patient-view", items, client_iss=None) == 1
    assert store.record_feedback(db, "patient-view", items, client_iss=None) == 0
    assert store.feedback_summary(db, "patient-view")["patient-view"]["overridden"] == 1


def test_feedback_reaches_the_audit_log_without_free_text(db: Database) -> None:
    issue(db, "c1")
    comment = "Mrs Smith prefers next week"
    items = store.parse_feedback(
        {"feedback": [overridden("c1", overrideReason={"reason": OVERRIDE, "userComment": comment})]}
    )
    store.record_feedback(db, "patient-view", items, client_iss="https://ehr.test/cds-client")
    rows = [r for r in audit.entries(db) if r["action"] == "cds-feedback"]
    assert len(rows) == 1
    row = rows[0]
    assert row["outcome"] == "overridden" and row["patient_id"] == "p1" and row["who"] == "Practitioner/pr1"
    assert row["what"]["codes"] == "98960" and row["what"]["rules"] == "order.missing"
    assert "patient-declined" in row["message"] and comment not in str(row)


def test_feedback_for_an_unknown_card_is_kept(db: Database) -> None:
    items = store.parse_feedback({"feedback": [overridden("never-issued")]})
    assert store.record_feedback(db, "encounter-discharge", items, client_iss=None) == 1
    assert store.feedback_summary(db)["encounter-discharge"]["overridden"] == 1


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"feedback": []},
        {"feedback": ["c1"]},
        {"feedback": [{"outcome": "overridden", "outcomeTimestamp": "2026-11-27T01:00:00Z"}]},
        {"feedback": [{"card": "c1", "outcome": "ignored", "outcomeTimestamp": "2026-11-27T01:00:00Z"}]},
        {"feedback": [{"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2026-11-27T01:00:00Z"}]},
        {"feedback": [{"card": "c1", "outcome": "overridden"}]},
        {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "yesterday"}]},
        {"feedback": [overridden("c1", overrideReason="because")]},
        {"feedback": [overridden("c1", overrideReason={"reason": {"system": "s"}})]},
    ],
)
def test_malformed_feedback_is_refused(body: Any) -> None:
    with pytest.raises(BadFeedback):
        store.parse_feedback(body)


def test_a_jwt_id_is_accepted_once(db: Database) -> None:
    assert store.jti_seen(db, "https://iss.test", "j1", 4102444800) is False
    assert store.jti_seen(db, "https://iss.test", "j1", 4102444800) is True
    assert store.jti_seen(db, "https://other.test", "j1", 4102444800) is False


def test_the_warnings_acknowledged_at_signing_are_found_by_charge_identifier(db: Database) -> None:
    from smart_app.store.writeback import AuditRow

    charge = {"key": "charge-0", "type": "ChargeItem", "identifier": "charge-abc"}
    what = {"resources": [charge, {"key": "note", "type": "DocumentReference", "identifier": "note-abc"}]}
    acks = {"acknowledged": [{"rule": "duplicate.charge", "reason": "second session, separate teaching"}]}
    rows = [
        ("signed", "pat-1", "enc-1", acks),
        ("signed", "pat-1", "enc-2", acks),
        ("write-result", "pat-1", "enc-1", acks),
    ]
    with db.session() as s:
        for action, patient, encounter, message in rows:
            s.add(AuditRow(action=action, write_key="k", issuer="https://ehr.test", patient_id=patient,
                           encounter_id=encounter, what_json=json.dumps(what), outcome="signed",
                           message=json.dumps(message)))  # fmt: skip
    assert store.acknowledged_at_signing(db, "pat-1", "enc-1") == {
        "charge-abc": frozenset({"duplicate.charge"})
    }
    assert store.acknowledged_at_signing(db, "pat-1", "enc-9") == {}
