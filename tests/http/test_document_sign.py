"""Review and signing over HTTP: acknowledgements, one charge per signature, note alone when blocked, outbox
and retry, and the charge summary for EHRs that take no charges."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from smart_app import create_app
from smart_app.launches import db_of
from smart_app.point_of_care import context, drafts
from smart_app.reads import forget_capabilities
from smart_app.writeback import audit
from tests.http.document_kit import (
    FakeEhr,
    app_for,
    commercial_diabetes,
    condition,
    coverage,
    csrf_of,
    encounter,
    launched,
    order,
    patient,
)
from tests.http.smart_kit import TOKEN, token_response, write_profile

ADCES = "ADCES7 Self-Care Behaviors (diabetes self-management education)"
SESSION = {
    "code": "98960",
    "minutes": "20",
    "dx": "E11.9",
    "curriculum": ADCES,
    "topic": ["Healthy eating"],
    "provider_role": "RN",
    "response": "Teach-back correct",
}


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    return app_for(tmp_path)


def documented(client: FlaskClient, handle: str, form: dict[str, Any] | None = None) -> str:
    """Open the page, type the session; returns the page's CSRF token."""
    token = csrf_of(client.get(f"/s/{handle}/").get_data(as_text=True))
    resp = client.post(f"/s/{handle}/evaluate", data=form or SESSION, headers={"X-CSRF-Token": token})
    assert resp.status_code == 200
    return token


def review(client: FlaskClient, handle: str) -> str:
    resp = client.get(f"/s/{handle}/review")
    assert resp.status_code == 200, resp.headers.get("Location")
    return resp.get_data(as_text=True)


def sign_form(html: str, *, acknowledge: bool = True, **extra: str) -> dict[str, str]:
    """What a clinician submits from the review page: the note as shown, every warning acknowledged."""
    form = {
        "csrf_token": csrf_of(html),
        "draft_id": re.search(r'name="draft_id" value="([0-9a-f]+)"', html)[1],  # type: ignore[index]
        "note": re.search(r'<textarea id="f-note" name="note" rows="14">(.*?)</textarea>', html, re.S)[1],  # type: ignore[index]
    }
    for n, rule in re.findall(r'name="rule_(\d+)" value="([^"]+)"', html):
        form[f"rule_{n}"] = rule
        if acknowledge:
            form[f"ack_{n}"] = "yes"
            form[f"reason_{n}"] = f"Reviewed {rule}"
    return form | extra


def test_review_shows_generated_note_lines_and_warnings(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    documented(client, handle)
    html = review(client, handle)
    assert "Curriculum: " + ADCES in html and "Teach-back correct" in html
    assert "<td>98960</td><td>1</td>" in html
    assert "Sign and send to the EHR" in html


def test_signing_writes_charge_note_and_provenance_once_even_when_submitted_twice(
    app: Flask, rsps: Any
) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    form = sign_form(review(client, handle))
    first = client.post(f"/s/{handle}/sign", data=form)
    second = client.post(f"/s/{handle}/sign", data=form)  # the double click
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert (ehr.count("ChargeItem"), ehr.count("DocumentReference"), ehr.count("Provenance")) == (1, 1, 1)
    charge = next(r for r in ehr.created if r["resourceType"] == "ChargeItem")
    note = next(r for r in ehr.created if r["resourceType"] == "DocumentReference")
    assert charge["supportingInformation"][0]["reference"] == f"DocumentReference/{note['id']}"
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Signed and written" in page and f"ChargeItem/{charge['id']}" in page
    draft = drafts.get(db_of(app), form["draft_id"])
    assert draft is not None and draft.status == drafts.SIGNED


def test_a_second_claim_on_the_same_draft_is_refused(app: Flask) -> None:
    db = db_of(app)
    draft = drafts.save(
        db, drafts.DraftKey("https://ehr.test/fhir", "pat-1", "enc-1", "u"), {"code": "98960"}, handle="h"
    )
    assert drafts.claim_for_signing(db, draft.id) is True
    assert drafts.claim_for_signing(db, draft.id) is False


def test_warnings_need_an_acknowledgement_with_a_reason_kept_in_the_audit_log(app: Flask, rsps: Any) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle, {**SESSION, "dx": "Z71.3"})  # a Z code alone: dx.not-supporting (warn)
    html = review(client, handle)
    assert 'name="rule_0"' in html, "the service should carry at least one warning"
    refused = client.post(f"/s/{handle}/sign", data=sign_form(html, acknowledge=False))
    assert refused.status_code == 422 and "give a reason" in refused.get_data(as_text=True)
    assert ehr.count("ChargeItem") == 0
    assert client.post(f"/s/{handle}/sign", data=sign_form(html)).status_code == 303
    rows = list(reversed(audit.entries(db_of(app))))  # oldest first
    actions = [e["action"] for e in rows]
    assert actions.count("signed") == 1 and actions.index("signed") < actions.index("write-attempt")
    acked = json.loads(rows[actions.index("signed")]["message"])["acknowledged"]
    shown = re.findall(r'name="rule_\d+" value="([^"]+)"', html)
    assert [a["rule"] for a in acked] == shown
    assert all(a["reason"] == f"Reviewed {a['rule']}" for a in acked)


def test_blocked_service_can_only_sign_the_note_alone_by_explicit_choice(app: Flask, rsps: Any) -> None:
    medicare = FakeEhr(
        [patient(), encounter(), condition(), coverage(sopt="1", payor="Medicare Part B"), order()]
    )
    client, handle = launched(app, rsps, medicare)
    documented(client, handle)
    html = review(client, handle)
    # the payable alternatives that fit the clinician (an RN, diabetes: DSMT) are named
    assert "No charge can be signed" in html and "G0108/G0109" in html
    refused = client.post(f"/s/{handle}/sign", data=sign_form(html))
    assert refused.status_code == 422 and medicare.created == []
    done = client.post(f"/s/{handle}/sign", data=sign_form(html, note_only="yes"))
    assert done.status_code == 303
    assert (medicare.count("ChargeItem"), medicare.count("DocumentReference")) == (0, 1)
    assert "Note signed" in client.get(done.headers["Location"]).get_data(as_text=True)


def test_server_error_queues_the_write_and_a_retry_writes_it_once(app: Flask, rsps: Any) -> None:
    ehr = FakeEhr(commercial_diabetes(), fail_next_writes=1)
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    signed = client.post(f"/s/{handle}/sign", data=sign_form(review(client, handle)))
    page = client.get(signed.headers["Location"]).get_data(as_text=True)
    assert "Signed, not yet written" in page and "Database unavailable" in page
    assert ehr.count("ChargeItem") == 0
    token = csrf_of(page)
    retry_url = re.search(r'action="([^"]+/retry/[0-9a-f]+)"', page)[1]  # type: ignore[index]
    assert client.post(retry_url, data={}).status_code == 400  # CSRF on the retry too
    retried = client.post(retry_url, data={"csrf_token": token})
    assert retried.status_code == 303
    assert "Signed and written" in client.get(retried.headers["Location"]).get_data(as_text=True)
    client.post(retry_url, data={"csrf_token": token})
    assert (ehr.count("ChargeItem"), ehr.count("DocumentReference")) == (1, 1)


def test_a_signed_draft_cannot_be_edited_any_more(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    token = documented(client, handle)
    form = sign_form(review(client, handle))
    client.post(f"/s/{handle}/sign", data=form)
    late = client.post(
        f"/s/{handle}/evaluate",
        data=SESSION | {"draft_id": form["draft_id"]},
        headers={"X-CSRF-Token": token},
    )
    assert late.status_code == 409


def note_only_app(tmp_path: Path, *, charge_summary: bool = True) -> Flask:
    forget_capabilities()
    config_dir = tmp_path / "profiles"
    config_dir.mkdir()
    write_profile(config_dir, "test-ehr", client_auth="none")
    with (config_dir / "test-ehr.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[writeback]\nchargeitem = "none"\ndocumentreference = "create"\ntransaction = false\n')
        fh.write(f"charge_summary = {str(charge_summary).lower()}\n")
    return create_app(
        {
            "TESTING": True,
            "SMART_EDU_DATABASE_URL": "sqlite://",
            "SMART_EDU_LAUNCH_CONFIG": str(config_dir),
            "SMART_EDU_BASE_URL": "https://app.test",
            "SMART_EDU_SECRET_KEY": "test-secret",
        }
    )


def test_ehr_without_charges_gets_the_note_and_a_charge_summary_csv(tmp_path: Path, rsps: Any) -> None:
    context.forget()
    app = note_only_app(tmp_path)
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    done = client.post(f"/s/{handle}/sign", data=sign_form(review(client, handle)))
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Charge summary for the biller" in page and "<td>98960</td>" in page
    csv_url = re.search(r'href="([^"]+\.csv)"', page)[1]  # type: ignore[index]
    csv = client.get(csv_url)
    assert csv.mimetype == "text/csv" and "attachment" in csv.headers["Content-Disposition"]
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0].startswith("patient,encounter,service_date,code") and ",98960," in lines[1]
    assert ehr.count("ChargeItem") == 0
    assert json.dumps(ehr.created).count("ChargeItem") == 0


def test_a_profile_without_charge_summary_files_the_note_and_hands_nothing_to_the_biller(
    tmp_path: Path, rsps: Any
) -> None:
    """Where charges reach billing another way (the clinician's own charge entry in the EHR), a summary
    handed on as well would be billed twice: ``charge_summary = false`` keeps it off the page."""
    context.forget()
    app = note_only_app(tmp_path, charge_summary=False)
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    form = sign_form(review(client, handle))
    done = client.post(f"/s/{handle}/sign", data=form)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Note signed" in page and "DocumentReference/" in page
    assert "Charge summary for the biller" not in page and ".csv" not in page
    assert client.get(f"/s/{handle}/summary/{form['draft_id']}.csv").status_code == 404
    assert ehr.count("DocumentReference") == 1 and ehr.count("ChargeItem") == 0
    [signed] = [e for e in audit.entries(db_of(app)) if e["action"] == "signed"]
    assert [c["code"] for c in signed["what"]["charges"]] == ["98960"]  # the audit log keeps the line


def test_session_ending_at_signing_keeps_the_write_in_the_outbox_for_after_a_relaunch(
    app: Flask, rsps: Any
) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    form = sign_form(review(client, handle))
    ehr.unauthorized = True  # the EHR revoked the token and refuses the refresh
    rsps.replace(responses.POST, TOKEN, status=400, json={"error": "invalid_grant"})
    resp = client.post(f"/s/{handle}/sign", data=form)
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Signed, not yet written" in page and "Retry now" in page
    draft = drafts.get(db_of(app), form["draft_id"])
    assert draft is not None and draft.status == drafts.QUEUED and draft.note_text == form["note"].strip()
    assert ehr.created == []

    ehr.unauthorized = False
    rsps.replace(responses.POST, TOKEN, json=token_response())
    client2, handle2 = launched(app, rsps, ehr)  # the clinician opens the app again from the EHR
    html = client2.get(f"/s/{handle2}/").get_data(as_text=True)
    assert "waiting to be written" in html
    result_url = f"/s/{handle2}/result/{form['draft_id']}"
    retried = client2.post(f"/s/{handle2}/retry/{form['draft_id']}", data={"csrf_token": csrf_of(html)})
    assert retried.status_code == 303 and retried.headers["Location"] == result_url
    assert "Signed and written" in client2.get(result_url).get_data(as_text=True)
    assert (ehr.count("ChargeItem"), ehr.count("DocumentReference")) == (1, 1)


def test_drafts_survive_an_app_restart(tmp_path: Path) -> None:
    from smart_app.store import Database

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    key = drafts.DraftKey("https://ehr.test/fhir", "pat-1", "enc-1", "Practitioner/p1")
    first = Database(url)
    first.create_all()
    saved = drafts.save(first, key, {"code": "98960", "minutes": "25"}, handle="h1")
    first.dispose()
    second = Database(url)  # a new process: nothing in memory
    found = drafts.find_open(second, key)
    assert found is not None and found.id == saved.id and found.fields["minutes"] == "25"
    second.dispose()


# -- the edited note is the clinician's work: a change of service never throws it away


def edit_then_change_service(client: FlaskClient, handle: str, *, edit: str) -> tuple[str, str]:
    """Review, save the note with ``edit`` appended, then change the minutes; returns (draft id, token)."""
    token = documented(client, handle)
    form = sign_form(review(client, handle))
    saved = client.post(
        f"/s/{handle}/draft",
        data={"draft_id": form["draft_id"], "note": form["note"] + edit},
        headers={"X-CSRF-Token": token},
    )
    assert saved.status_code == 200
    changed = client.post(
        f"/s/{handle}/evaluate",
        data=SESSION | {"minutes": "30", "draft_id": form["draft_id"]},
        headers={"X-CSRF-Token": token},
    )
    assert changed.status_code == 200
    return form["draft_id"], token


def test_an_edited_note_is_kept_when_the_service_changes_with_a_warning(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    draft_id, _ = edit_then_change_service(client, handle, edit="\nAsked about insulin storage.")
    html = review(client, handle)
    note = sign_form(html)["note"]
    assert "Asked about insulin storage." in note and "Face-to-face minutes: 20" in note  # as edited
    assert "The service changed since you edited this note" in html
    regenerate = re.search(r'action="([^"]+/review/regenerate)"', html)[1]  # type: ignore[index]
    assert client.post(regenerate, data={"draft_id": draft_id}).status_code == 400  # CSRF
    done = client.post(regenerate, data={"draft_id": draft_id, "csrf_token": csrf_of(html)})
    assert done.status_code == 303
    fresh = review(client, handle)
    note = sign_form(fresh)["note"]
    assert "insulin storage" not in note and "Face-to-face minutes: 30" in note
    assert "The service changed" not in fresh


def test_an_edited_note_signed_after_the_warning_is_what_the_ehr_gets(app: Flask, rsps: Any) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    edit_then_change_service(client, handle, edit="\nAsked about insulin storage.")
    assert client.post(f"/s/{handle}/sign", data=sign_form(review(client, handle))).status_code == 303
    [doc] = [r for r in ehr.created if r["resourceType"] == "DocumentReference"]
    text = base64.b64decode(doc["content"][0]["attachment"]["data"]).decode("utf-8")
    assert "Asked about insulin storage." in text


def test_an_unedited_saved_note_follows_the_service_without_a_warning(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    edit_then_change_service(client, handle, edit="")  # autosaved as generated, never edited
    html = review(client, handle)
    assert "Face-to-face minutes: 30" in sign_form(html)["note"]
    assert "The service changed" not in html


def test_an_edited_note_with_the_service_unchanged_is_shown_without_a_warning(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    token = documented(client, handle)
    form = sign_form(review(client, handle))
    client.post(
        f"/s/{handle}/draft",
        data={"draft_id": form["draft_id"], "note": form["note"] + "\nGood rapport."},
        headers={"X-CSRF-Token": token},
    )
    client.post(
        f"/s/{handle}/evaluate",
        data=SESSION | {"draft_id": form["draft_id"]},
        headers={"X-CSRF-Token": token},
    )
    html = review(client, handle)
    assert "Good rapport." in sign_form(html)["note"] and "The service changed" not in html


def test_start_and_end_times_are_signed_with_the_encounters_offset(app: Flask, rsps: Any) -> None:
    """The first release refused to sign with times (no offset: a library's validation text on the page)."""
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    form = SESSION | {"service_date": "2026-11-20", "start_time": "09:00", "end_time": "09:20", "minutes": ""}
    documented(client, handle, form)
    resp = client.post(f"/s/{handle}/sign", data=sign_form(review(client, handle)))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    note = next(r for r in ehr.created if r["resourceType"] == "DocumentReference")
    assert note["context"]["period"] == {
        "start": "2026-11-20T09:00:00Z",
        "end": "2026-11-20T09:20:00Z",
    }
    provenance = next(r for r in ehr.created if r["resourceType"] == "Provenance")
    assert all("onBehalfOf" in agent for agent in provenance["agent"])
