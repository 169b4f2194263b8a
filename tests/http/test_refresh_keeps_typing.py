"""Issue 2: when the refresh fails the clinician sees "relaunch from your EHR", and nothing typed is lost.

Typing never needs the EHR: each check saves the draft and maps the context read at the page's GET (kept
server-side). So a token that died meanwhile costs a relaunch at the next page load, never the text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from flask import Flask

from smart_app.launches import db_of
from smart_app.point_of_care import context, drafts
from tests.http.document_kit import FakeEhr, app_for, commercial_diabetes, csrf_of, launched
from tests.http.smart_kit import TOKEN, token_response

TYPED = {
    "code": "98960", "minutes": "25", "dx": "E11.9", "provider_role": "RN", "patient_present": "yes",
    "adaptations": "Large-print handouts, daughter interprets",
}  # fmt: skip


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    return app_for(tmp_path)


@pytest.mark.parametrize("route", ["evaluate", "form"])
def test_a_failed_refresh_asks_for_a_relaunch_and_keeps_what_was_typed(
    app: Flask, rsps: responses.RequestsMock, route: str
) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    token = csrf_of(client.get(f"/s/{handle}/").get_data(as_text=True))
    context.forget()  # another worker: only the store holds the context
    ehr.unauthorized = True  # the EHR revoked the access token ...
    rsps.replace(responses.POST, TOKEN, status=400, json={"error": "invalid_grant"})  # ... and the refresh
    if route == "evaluate":
        typed = client.post(f"/s/{handle}/evaluate", data=TYPED, headers={"X-CSRF-Token": token})
    else:
        typed = client.post(f"/s/{handle}/", data=TYPED | {"csrf_token": token, "action": "update"})
    assert typed.status_code in (200, 303)  # saved and checked without the EHR
    reload = client.get(f"/s/{handle}/")  # this one must read the EHR: the dead token shows
    assert reload.status_code == 401
    assert "Open the app again from your EHR" in reload.get_data(as_text=True)
    with db_of(app).session() as s:
        rows = s.query(drafts.DraftRow).all()
        assert len(rows) == 1
        saved = drafts.get(db_of(app), rows[0].id)
    assert saved is not None and saved.fields["adaptations"] == TYPED["adaptations"]

    ehr.unauthorized = False
    rsps.replace(responses.POST, TOKEN, json=token_response())
    client2, handle2 = launched(app, rsps, ehr)  # the relaunch finds the draft
    html = client2.get(f"/s/{handle2}/").get_data(as_text=True)
    assert "You have an unsigned draft for this visit" in html
