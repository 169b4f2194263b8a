"""The point-of-care page over HTTP: the form, the live check endpoint, drafts, CSRF, ICD-10-CM search,
styling.

A whole SMART launch runs against `responses` stubs (tests/http/smart_kit.py) and the EHR's FHIR answers come
from tests/http/document_kit.py, so each test reads as: launch, type, look at what the page says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from smart_app.launches import db_of
from smart_app.point_of_care import context, drafts, style
from tests.http.document_kit import (
    FakeEhr,
    app_for,
    commercial_diabetes,
    condition,
    coverage,
    csrf_of,
    draft_id_of,
    encounter,
    launched,
    order,
    patient,
)

ADCES = "ADCES7 Self-Care Behaviors (diabetes self-management education)"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    style.forget()
    return app_for(tmp_path)


def session_98960(minutes: str = "20", **extra: Any) -> dict[str, Any]:
    return {
        "code": "98960",
        "minutes": minutes,
        "dx": "E11.9",
        "curriculum": ADCES,
        "topic": ["Healthy eating", "Monitoring"],
        "provider_role": "RN",
        "patient_present": "yes",
    } | extra


def open_page(client: FlaskClient, handle: str) -> tuple[str, str]:
    resp = client.get(f"/s/{handle}/")
    assert resp.status_code == 200, resp.data[:500]
    html = resp.get_data(as_text=True)
    return html, csrf_of(html)


def evaluate(client: FlaskClient, handle: str, token: str, form: dict[str, Any]) -> dict[str, Any]:
    resp = client.post(f"/s/{handle}/evaluate", data=form, headers={"X-CSRF-Token": token})
    assert resp.status_code == 200, resp.data[:500]
    body = resp.get_json()
    assert isinstance(body, dict)
    return body


def rules(body: dict[str, Any]) -> dict[str, str]:
    return {f["rule"]: f["severity"] for f in body["evaluation"]["findings"]}


def test_page_shows_context_and_the_form_with_grouped_catalogue_codes(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    html, _ = open_page(client, handle)
    assert "Dana Diabetes" in html
    assert 'optgroup label="Self-management education"' in html
    assert 'value="98960"' in html
    assert 'id="dx-1" name="dx" value="E11.9"' in html
    assert "<script src=" in html and "<script>" not in html  # no inline script (CSP)


def test_patient_name_with_html_is_shown_as_text(app: Flask, rsps: Any) -> None:
    hostile = '<b>Robert</b> "Bobby" O\'Neil & <script>alert(1)</script>'
    ehr = FakeEhr([patient(hostile), encounter(), condition(), coverage(), order()])
    client, handle = launched(app, rsps, ehr)
    html, _ = open_page(client, handle)
    assert "<b>Robert</b>" not in html and "<script>alert(1)</script>" not in html
    assert "&lt;b&gt;Robert&lt;/b&gt;" in html


def test_live_check_follows_the_minutes_from_blocked_to_billable(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    _, token = open_page(client, handle)
    ten = evaluate(client, handle, token, session_98960("10"))
    assert rules(ten)["time.below-minimum"] == "block"
    assert ten["can_review"] is False and ten["evaluation"]["charge_lines"] == []
    assert "Must fix before a charge can be signed" in ten["html"]
    twenty = evaluate(client, handle, token, session_98960("20"))
    assert "time.below-minimum" not in rules(twenty)
    assert [(c["code"], c["units"]) for c in twenty["evaluation"]["charge_lines"]] == [("98960", 1)]
    assert twenty["can_review"] is True
    assert twenty["evaluation"]["estimate"]["payer_class"] == "commercial"


def test_findings_link_to_the_field_they_concern(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    _, token = open_page(client, handle)
    body = evaluate(client, handle, token, session_98960(dx="", curriculum=""))
    assert rules(body)["dx.missing"] == "block"
    assert 'data-focus="f-dx"' in body["html"]
    assert 'data-focus="f-curriculum"' in body["html"] or 'data-focus="f-topics_other"' in body["html"]


def test_fields_the_code_does_not_need_do_not_reach_the_engine(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    _, token = open_page(client, handle)
    body = evaluate(client, handle, token, session_98960(eval_presentation="bogus", rtm_days_of_data="x"))
    assert body["form_errors"] == []
    assert body["can_review"] is True


def test_bad_input_becomes_a_field_error_not_a_server_error(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    _, token = open_page(client, handle)
    body = evaluate(client, handle, token, session_98960("ten"))
    assert body["form_errors"] == [{"field": "minutes", "message": "Minutes must be a whole number."}]
    assert body["can_review"] is False and body["evaluation"] is None


def test_start_and_end_times_give_the_minutes(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    _, token = open_page(client, handle)
    body = evaluate(client, handle, token, session_98960("", start_time="09:05", end_time="09:40"))
    assert [c["units"] for c in body["evaluation"]["charge_lines"]] == [1]


def test_each_check_saves_the_draft_server_side(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    _, token = open_page(client, handle)
    first = evaluate(client, handle, token, session_98960("10"))
    second = evaluate(client, handle, token, session_98960("25") | {"draft_id": first["draft_id"]})
    assert second["draft_id"] == first["draft_id"]
    saved = drafts.get(db_of(app), first["draft_id"])
    assert saved is not None and saved.fields["minutes"] == "25" and saved.status == drafts.OPEN
    assert saved.key.patient_id == "pat-1" and saved.key.encounter_id == "enc-1"


def test_post_without_csrf_token_is_refused_and_saves_nothing(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    open_page(client, handle)
    assert client.post(f"/s/{handle}/evaluate", data=session_98960()).status_code == 400
    bad = client.post(f"/s/{handle}/evaluate", data=session_98960(), headers={"X-CSRF-Token": "0" * 64})
    assert bad.status_code == 400
    assert client.post(f"/s/{handle}/", data=session_98960()).status_code == 400
    with db_of(app).session() as s:
        assert s.query(drafts.DraftRow).count() == 0


def test_draft_survives_a_relaunch_and_is_offered_for_resuming(app: Flask, rsps: Any) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    _, token = open_page(client, handle)
    evaluate(client, handle, token, session_98960("25", adaptations="Large-print handouts"))
    client2, handle2 = launched(app, rsps, ehr)  # token expired; the clinician opens the app again
    assert handle2 != handle
    html, token2 = open_page(client2, handle2)
    assert "You have an unsigned draft for this visit" in html and 'id="poc-form"' not in html
    resp = client2.post(f"/s/{handle2}/", data={"csrf_token": token2, "action": "resume"})
    assert resp.status_code == 303
    html, _ = open_page(client2, handle2)
    assert (
        "Large-print handouts" in html
        and 'name="minutes" min="0" max="480" inputmode="numeric" value="25"' in html
    )


def test_discarding_a_draft_starts_afresh(app: Flask, rsps: Any) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    _, token = open_page(client, handle)
    evaluate(client, handle, token, session_98960("25"))
    client2, handle2 = launched(app, rsps, ehr)
    _, token2 = open_page(client2, handle2)
    client2.post(f"/s/{handle2}/", data={"csrf_token": token2, "action": "discard"})
    html, _ = open_page(client2, handle2)
    assert "unsigned draft" not in html and draft_id_of(html) == ""


def test_without_javascript_the_form_posts_and_goes_to_review(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    _, token = open_page(client, handle)
    resp = client.post(f"/s/{handle}/", data=session_98960("10") | {"csrf_token": token, "action": "update"})
    assert resp.status_code == 200 and "time.below-minimum" in resp.get_data(as_text=True)
    resp = client.post(f"/s/{handle}/", data=session_98960("20") | {"csrf_token": token, "action": "review"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/s/{handle}/review")


def test_icd10_search_finds_codes_by_description(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    open_page(client, handle)
    body = client.get(f"/s/{handle}/icd10", query_string={"q": "type 2 diabetes"}).get_json()
    codes = [r["code"] for r in body["results"]]
    assert "E11.9" in codes
    assert client.get(f"/s/{handle}/icd10", query_string={"q": "x"}).get_json()["results"] == []


def test_snomed_only_condition_prompts_an_icd10_search(app: Flask, rsps: Any) -> None:
    snomed = condition()
    snomed["code"] = {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "44054006", "display": "Diabetes mellitus type 2"}
        ]
    }
    ehr = FakeEhr([patient(), encounter(), snomed, coverage(), order()])
    client, handle = launched(app, rsps, ehr)
    html, _ = open_page(client, handle)
    assert "Coded only in SNOMED CT" in html
    assert 'id="f-icd_q" name="icd_q" value="Diabetes mellitus type 2"' in html


def test_payer_and_role_are_editable_only_where_the_ehr_did_not_say(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr([patient(), encounter(), condition(), order()]))
    html, token = open_page(client, handle)
    assert (
        'id="f-payer_class" name="payer_class"' in html
        and 'id="f-provider_role" name="provider_role"' in html
    )
    body = evaluate(client, handle, token, session_98960(payer_class="medicare"))
    assert rules(body)["payer.not-covered"] == "block"
    client2, handle2 = launched(app, rsps, FakeEhr(commercial_diabetes()))
    html2, _ = open_page(client2, handle2)
    assert 'name="payer_class"' not in html2


def test_ehr_style_becomes_safe_custom_properties_only(app: Flask, rsps: Any) -> None:
    style = {
        "color_background": "#fafafa",
        "color_text": "#222222",
        "color_highlight": "#0b5cad",
        "font_family_body": "Georgia, 'Times New Roman', serif",
        "dim_font_size": "13px",
        "color_error": "red; } body { background: url(//evil) ",
    }
    rsps.get("https://ehr.test/style.json", json=style)
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    html, _ = open_page(client, handle)
    assert f"/s/{handle}/style.css" in html
    css = client.get(f"/s/{handle}/style.css")
    assert css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert "--poc-bg: #fafafa;" in text and "--poc-font: Georgia, 'Times New Roman', serif;" in text
    assert "evil" not in text and "--poc-error" not in text


def test_another_browser_cannot_use_the_launch(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    open_page(client, handle)
    stranger = app.test_client()
    assert stranger.get(f"/s/{handle}/").status_code in (401, 403)
    assert stranger.get(f"/s/{handle}/icd10", query_string={"q": "diabetes"}).status_code in (401, 403)
