"""A write waiting in the outbox is never hidden: the page lists every one for the visit (also behind a newer
service) and tells a clinician whose EHR session ended to open the app again from the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask

from smart_app.fhir_client import FhirClient
from smart_app.launches import db_of
from smart_app.point_of_care import context, drafts
from smart_app.writeback import retry_outbox_entry
from tests.http.document_kit import ISS, FakeEhr, app_for, commercial_diabetes, launched
from tests.http.smart_kit import TOKEN, token_response
from tests.http.test_document_sign import documented, review, sign_form


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    return app_for(tmp_path)


def test_an_ended_session_says_relaunch_and_the_waiting_write_stays_listed_behind_a_new_service(
    app: Flask, rsps: Any
) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    form = sign_form(review(client, handle))
    ehr.unauthorized = True
    rsps.replace(responses.POST, TOKEN, status=400, json={"error": "invalid_grant"})
    page = client.get(client.post(f"/s/{handle}/sign", data=form).headers["Location"]).get_data(as_text=True)
    assert "Your EHR session has ended" in page and "Open this app again from the patient" in page

    ehr.unauthorized = False
    rsps.replace(responses.POST, TOKEN, json=token_response())
    client2, handle2 = launched(app, rsps, ehr)
    documented(client2, handle2)  # a new service for the same visit: a new open draft
    html = client2.get(f"/s/{handle2}/").get_data(as_text=True)
    assert 'id="poc-waiting"' in html and f"/s/{handle2}/result/{form['draft_id']}" in html
    assert ehr.created == []


def test_a_write_sent_meanwhile_from_the_command_line_is_no_longer_shown_as_waiting(
    app: Flask, rsps: Any
) -> None:
    ehr = FakeEhr(commercial_diabetes(), fail_next_writes=1)
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    form = sign_form(review(client, handle))
    client.post(f"/s/{handle}/sign", data=form)
    draft = drafts.get(db_of(app), form["draft_id"])
    assert draft is not None and draft.status == drafts.QUEUED and draft.result is not None
    assert 'id="poc-waiting"' in client.get(f"/s/{handle}/").get_data(as_text=True)
    sent = retry_outbox_entry(db_of(app), FhirClient(ISS), str(draft.result["outbox_id"]))  # `outbox retry`
    assert sent.status == "written"
    assert 'id="poc-waiting"' not in client.get(f"/s/{handle}/").get_data(as_text=True)
    page = client.get(f"/s/{handle}/result/{form['draft_id']}").get_data(as_text=True)
    assert "Signed and written" in page
    assert drafts.get(db_of(app), form["draft_id"]).status == drafts.SIGNED  # type: ignore[union-attr]
    assert (ehr.count("ChargeItem"), ehr.count("DocumentReference")) == (1, 1)
