"""A signing whose process died mid-write (app restart, killed worker) is neither stuck nor written twice.

The draft stays ``signing`` with no result; once ``drafts.STALE_SIGNING`` has passed it is reopened with the
same id, so signing again uses the same identifiers: what already reached the EHR is found, not rewritten,
and the clinician's note is not lost to a new draft.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from smart_app.clock import utcnow
from smart_app.launches import db_of
from smart_app.point_of_care import context, drafts
from smart_app.store.writeback import WriteJob
from tests.http.document_kit import FakeEhr, app_for, commercial_diabetes, launched
from tests.http.test_document_sign import documented, review, sign_form


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    return app_for(tmp_path)


def age_signing(app: Flask, draft_id: str, minutes: int) -> None:
    """The process that claimed the draft died ``minutes`` ago (and left its write job running)."""
    db = db_of(app)
    with db.session() as s:
        s.execute(
            update(drafts.DraftRow)
            .where(drafts.DraftRow.id == draft_id)
            .values(status=drafts.SIGNING, result_json=None, updated_at=utcnow() - timedelta(minutes=minutes))
        )
        s.execute(
            update(WriteJob).values(status="running", lease_until=utcnow() - timedelta(minutes=minutes))
        )


def test_a_signing_interrupted_after_the_write_is_reopened_and_resigned_without_a_duplicate(
    app: Flask, rsps: Any
) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    form = sign_form(review(client, handle))
    assert client.post(f"/s/{handle}/sign", data=form).status_code == 303
    assert (ehr.count("ChargeItem"), ehr.count("DocumentReference")) == (1, 1)
    age_signing(app, form["draft_id"], minutes=1)  # killed after the EHR committed, before the draft was told
    result_url = f"/s/{handle}/result/{form['draft_id']}"
    # A minute on, another worker may still be writing: the page waits.
    assert "Writing to the EHR" in client.get(result_url).get_data(as_text=True)
    age_signing(app, form["draft_id"], minutes=10)
    page = client.get(result_url).get_data(as_text=True)
    assert "Writing was interrupted" in page and 'http-equiv="refresh"' not in page
    html = review(client, handle)  # the same draft, with the same note, not a new one
    again = sign_form(html)
    assert again["draft_id"] == form["draft_id"] and again["note"].strip() == form["note"].strip()
    done = client.post(f"/s/{handle}/sign", data=again)
    assert "Signed and written" in client.get(done.headers["Location"]).get_data(as_text=True)
    assert (ehr.count("ChargeItem"), ehr.count("DocumentReference")) == (1, 1)
    draft = drafts.get(db_of(app), form["draft_id"])
    assert draft is not None and draft.status == drafts.SIGNED


def test_an_interrupted_signing_is_what_the_page_offers_not_a_new_empty_draft(app: Flask, rsps: Any) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    draft_id = sign_form(review(client, handle))["draft_id"]
    assert drafts.claim_for_signing(db_of(app), draft_id)  # then the worker was killed before sending
    age_signing(app, draft_id, minutes=10)
    key = drafts.get(db_of(app), draft_id).key  # type: ignore[union-attr]
    reopened = drafts.find_open(db_of(app), key)
    assert reopened is not None and reopened.id == draft_id and reopened.fields["minutes"] == "20"
    assert ehr.created == []
