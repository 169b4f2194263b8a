"""Signing one draft is idempotent however requests interleave (issue 10): a request about a draft saves into
that draft by id or not at all, never into a new one; a Sign that finds the draft claimed by another waits for
that one's result and shows it. The interleavings are forced here one at a time; tests/e2e/test_sign_storm.py
releases real simultaneous requests against real servers."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from smart_app.clock import utcnow
from smart_app.launches import db_of
from smart_app.point_of_care import context as document_context
from smart_app.point_of_care import drafts
from smart_app.store import DraftRow
from tests.http.document_kit import FakeEhr, app_for, commercial_diabetes, launched
from tests.http.test_document_sign import documented, review, sign_form

KEY = drafts.DraftKey("https://ehr.test/fhir", "pat-1", "enc-1", "Practitioner/1")


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    document_context.forget()
    return app_for(tmp_path)


def draft_count(app: Flask) -> int:
    with db_of(app).session() as s:
        return int(s.scalar(select(func.count()).select_from(DraftRow)) or 0)


def test_saving_into_a_claimed_draft_saves_nothing_and_creates_no_draft(app: Flask) -> None:
    db = db_of(app)
    draft = drafts.save(db, KEY, {"code": "98960"}, handle="h")
    assert drafts.save_into(db, draft.id, {"code": "98960", "minutes": "20"}, handle="h") is not None
    assert drafts.claim_for_signing(db, draft.id, note_text="Signed words", note_basis="b1")
    assert drafts.save_into(db, draft.id, {"code": "97110"}, handle="h", note_text="other") is None
    kept = drafts.get(db, draft.id)
    assert kept is not None and kept.status == drafts.SIGNING
    assert kept.fields == {"code": "98960", "minutes": "20"}
    assert (kept.note_text, kept.note_basis) == ("Signed words", "b1")  # the claim saved the signed note
    assert draft_count(app) == 1 and drafts.find_open(db, KEY) is None


def test_waiting_for_a_signing_draft_returns_its_result_or_gives_up_after_the_timeout(app: Flask) -> None:
    db = db_of(app)
    draft = drafts.save(db, KEY, {"code": "98960"}, handle="h")
    drafts.claim_for_signing(db, draft.id)
    slept: list[float] = []
    late = drafts.wait_settled(db, draft.id, timeout=0.0, sleep=slept.append)
    assert late is not None and late.status == drafts.SIGNING and slept == []

    def first_signer_finishes(_: float) -> None:
        drafts.finish(db, draft.id, drafts.SIGNED, {"status": "written"})

    settled = drafts.wait_settled(db, draft.id, timeout=5.0, sleep=first_signer_finishes)
    assert settled is not None and settled.status == drafts.SIGNED and settled.result == {"status": "written"}


def test_a_sign_whose_draft_is_claimed_after_it_was_read_shows_the_first_result_and_writes_nothing(
    app: Flask, rsps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving that wrote a second charge: this Sign reads the draft open, a simultaneous one claims
    it, then this one saves the note. It used to save into a NEW draft and sign that (new identifiers)."""
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    form = sign_form(review(client, handle))
    db = db_of(app)
    cached = document_context.cached
    done = threading.Event()

    def claimed_meanwhile(launch: Any) -> Any:
        assert drafts.claim_for_signing(db, form["draft_id"])  # the other request wins the claim ...

        def finish() -> None:  # ... and finishes its write a little later
            drafts.finish(db, form["draft_id"], drafts.SIGNED, {"status": "written", "resources": []})
            done.set()

        threading.Timer(0.2, finish).start()
        return cached(launch)

    monkeypatch.setattr(document_context, "cached", claimed_meanwhile)
    resp = client.post(f"/s/{handle}/sign", data=form)
    assert done.is_set()  # it waited for the first signer's result
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/s/{handle}/result/{form['draft_id']}")
    signed = drafts.get(db, form["draft_id"])
    assert signed is not None and signed.status == drafts.SIGNED
    assert draft_count(app) == 1 and drafts.find_open(db, signed.key) is None
    assert (ehr.count("ChargeItem"), ehr.count("DocumentReference")) == (0, 0)


def test_the_live_check_of_a_draft_claimed_meanwhile_is_refused_and_starts_no_draft(
    app: Flask, rsps: Any
) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    token = documented(client, handle)
    form = sign_form(review(client, handle))
    assert drafts.claim_for_signing(db_of(app), form["draft_id"])
    late = client.post(
        f"/s/{handle}/evaluate",
        data={"code": "98960", "minutes": "30", "draft_id": form["draft_id"]},
        headers={"X-CSRF-Token": token},
    )
    assert late.status_code == 409
    assert draft_count(app) == 1


def test_a_draft_whose_write_is_still_alive_is_not_reopened_as_interrupted(app: Flask) -> None:
    db = db_of(app)
    draft = drafts.save(db, KEY, {"code": "98960"}, handle="h")
    drafts.claim_for_signing(db, draft.id)
    long_ago = utcnow() - drafts.STALE_SIGNING - timedelta(minutes=1)
    with db.session() as s:
        s.execute(update(DraftRow).where(DraftRow.id == draft.id).values(updated_at=long_ago))
    drafts.keep_signing(db, draft.id)  # the writer's lease heartbeat: still writing
    assert drafts.reopen_if_stale(db, draft.id) is False
    assert drafts.find_open(db, KEY) is None
    with db.session() as s:  # the writer died: no more heartbeats, so it is reopened after STALE_SIGNING
        s.execute(update(DraftRow).where(DraftRow.id == draft.id).values(updated_at=long_ago))
    assert drafts.reopen_if_stale(db, draft.id) is True
