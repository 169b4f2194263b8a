"""``appContext`` through the launch (issue 7): kept on the launch record, on ``g.launch.context``, used by
the point-of-care page, and ignored safely when it is bad.

The EHR is the `responses` stand-in of smart_kit/document_kit: its token response carries the appContext a
CDS card's smart link would have (as the sandbox's does).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from smart_app.launches import db_of
from smart_app.point_of_care import context, drafts
from smart_app.point_of_care.api import draft_key
from smart_app.smart.app_context import MAX_LENGTH, parse_app_context
from smart_app.store import LaunchRecord
from tests.http.document_kit import FakeEhr, app_for, commercial_diabetes, csrf_of, launched
from tests.http.smart_kit import launch_of

CARD = {"hook": "patient-view", "hookInstance": "4b3c1c0e-2f5a-4b1e-9d0b-2f7e0e6f7a10", "patientId": "pat-1",
        "encounterId": "enc-1", "code": "98960", "orderId": "sr-1"}  # fmt: skip


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    return app_for(tmp_path)


def page_for(app: Flask, rsps: Any, app_context: Any) -> tuple[Any, str, str]:
    """Launch with this appContext in the token response (omitted when None); open the page."""
    token = {} if app_context is None else {"appContext": app_context}
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()), **token)
    resp = client.get(f"/s/{handle}/")
    assert resp.status_code == 200, resp.data[:300]
    return client, handle, resp.get_data(as_text=True)


def selected_code(html: str) -> str | None:
    m = re.search(r'<option value="([0-9A-Z]+)" data-fields="[^"]*"[^>]* selected>', html)
    return m.group(1) if m else None


def stored(app: Flask) -> dict[str, Any]:
    with db_of(app).session() as s:
        return s.query(LaunchRecord).one().context


def test_a_card_launch_keeps_appContext_server_side_and_preselects_the_code(app: Flask, rsps: Any) -> None:
    client, handle, html = page_for(app, rsps, json.dumps(CARD))
    assert stored(app)["app_context"] == CARD
    assert launch_of(app, client, handle).context.app_context == CARD
    assert selected_code(html) == "98960"
    line = re.search(r'<p class="notice" id="poc-from-card"[^>]*>(.*?)</p>', html, re.S)
    assert line and "Opened from a CDS Hooks card shown when the chart was opened" in line.group(1)
    assert "suggested 98960, chosen below for this new draft" in line.group(
        1
    ) and "Order: DSME" in line.group(1)
    assert "hookInstance" not in html and CARD["hookInstance"] not in html  # not handed to the browser


def test_an_ordinary_launch_has_no_card_line_and_no_preselection(app: Flask, rsps: Any) -> None:
    _, _, html = page_for(app, rsps, None)
    assert "app_context" not in stored(app)
    assert 'id="poc-from-card"' not in html and selected_code(html) is None


def test_an_existing_drafts_choice_is_never_overwritten(app: Flask, rsps: Any) -> None:
    client, handle, html = page_for(app, rsps, json.dumps(CARD))
    resp = client.post(
        f"/s/{handle}/",
        data={"csrf_token": csrf_of(html), "draft_id": "", "code": "97535", "action": "update"},
    )
    assert resp.status_code == 200
    again = client.get(f"/s/{handle}/").get_data(as_text=True)
    assert selected_code(again) == "97535"
    assert 'id="poc-from-card"' in again and "chosen below" not in again
    draft = drafts.find_open(db_of(app), draft_key(launch_of(app, client, handle)))
    assert draft is not None and draft.fields["code"] == "97535"


@pytest.mark.parametrize(
    ("app_context", "why"),
    [
        ("x" * (MAX_LENGTH + 1), "oversized"),
        ("not json {", "not JSON"),
        ('["98960"]', "not an object"),
        (json.dumps(CARD | {"patientId": "someone-else"}), "another patient"),
        (json.dumps(CARD | {"encounterId": "enc-other"}), "another encounter"),
        (json.dumps({"evil": "98960", "code": "<b>98960</b>"}), "no usable key"),
    ],
)
def test_bad_appContext_is_ignored_and_the_page_still_works(
    app: Flask, rsps: Any, app_context: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="smart_app.smart.app_context"):
        _, _, html = page_for(app, rsps, app_context)
    assert "app_context" not in stored(app), why
    assert 'id="poc-from-card"' not in html and selected_code(html) is None
    assert "appContext ignored" in caplog.text and "someone-else" not in caplog.text


def test_an_appContext_that_is_not_a_string_is_ignored(app: Flask, rsps: Any) -> None:
    _, _, html = page_for(app, rsps, {"code": "98960"})
    assert "app_context" not in stored(app) and selected_code(html) is None


def test_unknown_keys_and_uncatalogued_codes_are_dropped(app: Flask, rsps: Any) -> None:
    sent = CARD | {"code": "99999", "settings": "x", "orderId": "sr-nope", "note": "<script>"}
    _, _, html = page_for(app, rsps, json.dumps(sent))
    assert set(stored(app)["app_context"]) == set(CARD)  # unknown keys gone before storing
    assert selected_code(html) is None and 'id="poc-from-card"' in html
    assert "99999" not in html and "Order:" not in html


def test_a_payable_routes_card_offers_the_routes_as_switch_buttons_and_preselects_nothing(
    app: Flask, rsps: Any
) -> None:
    routes = "97535 97110 97550-97552 G0108/G0109 XYZ"  # as the Medicare card names them
    _, _, html = page_for(app, rsps, json.dumps(CARD | {"routes": routes}))
    assert selected_code(html) is None and "does not pay it" in html
    offered = re.findall(r'value="use_code:(\w+)"', html)
    assert offered[:5] == ["97535", "97110", "97550", "97551", "97552"] and "XYZ" not in offered


def test_parse_caps_values_and_checks_the_launch() -> None:
    assert parse_app_context(json.dumps(CARD), patient="pat-1", encounter="enc-1") == CARD
    assert parse_app_context(json.dumps({"code": "9" * 65}), patient="pat-1", encounter=None) is None
    assert parse_app_context(json.dumps({"code": "98960"}), patient="pat-1", encounter=None) == {
        "code": "98960"
    }
    assert parse_app_context(json.dumps(CARD), patient="pat-1", encounter=None) is None
