"""The visit grid over HTTP: several services checked as one visit (the CMS pool of the visit's own timed
services, GP and CQ), the allocation and each row's lines in the live answer, rows added and removed without
JavaScript, field errors on the row concerned, and what the clinician reads (no rule id, no field name)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from smart_app.launches import db_of
from smart_app.point_of_care import context, drafts, style
from tests.http.document_kit import (
    FakeEhr,
    app_for,
    condition,
    coverage,
    csrf_of,
    draft_id_of,
    encounter,
    launched,
    patient,
)
from tests.http.test_document_page import evaluate, open_page


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    style.forget()
    return app_for(tmp_path)


def medicare_knee() -> FakeEhr:
    return FakeEhr(
        [patient("Harold Knee"), encounter(), condition("M17.11", "Primary osteoarthritis, right knee"),
         coverage("121", "Medicare Part B")]
    )  # fmt: skip


VISIT = {
    "provider_role": "PT",
    "dx": "M17.11",
    "plan_of_care_certified": "yes",
    "rows": "3",
    "code": "97110", "minutes": "33",
    "s1_code": "97112", "s1_minutes": "24", "s1_furnished_by": "assistant",
    "s2_code": "97140", "s2_minutes": "7",
}  # fmt: skip


def visible_text(html: str) -> str:
    """The fragment's text outside the "Source" disclosures (where rule ids and sources may stand)."""
    html = re.sub(r'<details class="finding-source">.*?</details>', "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_three_timed_services_are_one_visit_with_the_cms_allocation_gp_and_cq(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, medicare_knee())
    _, token = open_page(client, handle)
    body = evaluate(client, handle, token, VISIT)
    lines = [(c["code"], c["units"], c["modifiers"]) for c in body["evaluation"]["charge_lines"]]
    assert lines == [
        ("97110", 2, ["GP"]),
        ("97112", 2, ["GP", "CQ"]),
    ]  # 64 minutes = 4 units; 97140's 7 pooled
    assert [s["code"] for s in body["evaluation"]["services"]] == ["97110", "97112", "97140"]
    assert "64 timed minutes: 97110 × 2, 97112 × 2, 97140 × 0" in body["allocation_html"]
    assert "Bills 97110 × 2 (GP)" in body["rows_html"][0]
    assert "Bills 97112 × 2 (GP, CQ)" in body["rows_html"][1]
    assert "No charge line of its own" in body["rows_html"][2] and "Why" in body["rows_html"][2]
    assert body["heading"] == "Document the therapy visit"
    shown = visible_text(body["html"])
    assert not re.search(r"\b(time|dx|payer|modifier|assistant|ncci|rules|kx|estimate)\.[a-z-]+", shown), (
        shown
    )
    assert "therapy_ytd_allowed" not in shown and "assistant_minutes" not in shown


def test_a_blocked_visit_shows_no_charge_line_or_estimate(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, medicare_knee())
    _, token = open_page(client, handle)
    body = evaluate(client, handle, token, VISIT | {"dx": ""})
    assert body["evaluation"]["billable"] is False
    assert "Charge lines" not in body["html"] and "Estimate" not in body["html"]
    assert "Not billable" in body["rows_html"][0] and "Bills" not in body["rows_html"][0]


def test_a_bad_minutes_value_is_an_error_on_its_own_row(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, medicare_knee())
    _, token = open_page(client, handle)
    body = evaluate(client, handle, token, VISIT | {"s2_minutes": "seven"})
    assert [e["field"] for e in body["form_errors"]] == ["s2_minutes"]
    assert 'data-focus="f-s2_minutes"' in body["html"]


def test_the_same_code_twice_is_a_plain_error_on_the_second_row(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, medicare_knee())
    _, token = open_page(client, handle)
    body = evaluate(client, handle, token, VISIT | {"s2_code": "97110"})
    assert [e["field"] for e in body["form_errors"]] == ["s2_code"]
    assert "already on this visit" in body["form_errors"][0]["message"]


def test_without_javascript_rows_are_added_and_removed_and_the_draft_holds_the_visit(
    app: Flask, rsps: Any
) -> None:
    client, handle = launched(app, rsps, medicare_knee())
    html, token = open_page(client, handle)
    assert 'name="action" value="add_row"' in html
    form = {
        "csrf_token": token,
        "action": "add_row",
        "code": "97110",
        "minutes": "33",
        "dx": "M17.11",
        "rows": "1",
    }
    page = client.post(f"/s/{handle}/", data=form).get_data(as_text=True)
    assert 'id="f-s1_code"' in page and re.search(r'id="f-s1_code"[^>]*autofocus', page)
    form = {"csrf_token": csrf_of(page), "action": "remove_0", "rows": "2", "code": "97110", "minutes": "33",
            "s1_code": "97112", "s1_minutes": "24", "dx": "M17.11"}  # fmt: skip
    page = client.post(f"/s/{handle}/", data=form).get_data(as_text=True)
    assert 'id="f-s1_code"' not in page and re.search(r'<option value="97112"[^>]* selected>', page)
    draft = drafts.get(db_of(app), draft_id_of(page))
    assert (
        draft is not None
        and draft.fields["code"] == "97112"
        and draft.fields["minutes"] == "24"
        and "s1_code" not in draft.fields
    )


def test_patients_in_the_session_is_asked_for_group_codes_only(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, medicare_knee())
    _, token = open_page(client, handle)
    one = client.post(f"/s/{handle}/", data={"csrf_token": token, "code": "98960"}).get_data(as_text=True)
    assert re.search(r'data-group-only hidden><label for="f-patients_in_group"', one)
    group = client.post(f"/s/{handle}/", data={"csrf_token": token, "code": "98961"}).get_data(as_text=True)
    assert re.search(r'data-group-only ><label for="f-patients_in_group"', group)


def test_a_not_covered_code_offers_the_routes_that_fit_as_switch_buttons(app: Flask, rsps: Any) -> None:
    client, handle = launched(app, rsps, medicare_knee())
    _, token = open_page(client, handle)
    body = evaluate(
        client, handle, token, {"provider_role": "PT", "dx": "M17.11", "code": "98960", "minutes": "30"}
    )
    offered = re.findall(r'value="use_code:(\w+):98960"', body["html"])
    assert offered[:3] == ["97535", "97110", "97530"] and "G0108" not in offered  # a PT's routes, not DSMT
    form = {"csrf_token": token, "action": "use_code:97110:98960", "provider_role": "PT", "dx": "M17.11",
            "code": "98960", "minutes": "30"}  # fmt: skip
    page = client.post(f"/s/{handle}/", data=form).get_data(as_text=True)
    assert re.search(r'<option value="97110"[^>]* selected>', page) and 'value="30"' in page
