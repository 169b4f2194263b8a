"""Rotating ``SMART_EDU_SECRET_KEY`` (docs/security.md, "Rotating the secret key"): with the old key in
``SMART_EDU_SECRET_KEY_PREVIOUS`` an open launch and an open form go on working while everything new is
sealed and signed with the new key; once the old key is dropped, what it sealed is refused cleanly (the
relaunch page, the expired-form message), never a server error.

Each "instance" is a ``create_app`` on one shared SQLite store, as a rolling restart leaves them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from smart_app import create_app
from smart_app.launches import db_of
from smart_app.point_of_care import context
from smart_app.reads import forget_capabilities
from smart_app.store import LaunchRecord, TokenSealer
from tests.http.document_kit import FakeEhr, commercial_diabetes, csrf_of, launched
from tests.http.smart_kit import ISS, TOKEN, launch_of, token_response, write_profile

OLD, NEW = "old-key-" + "a" * 56, "new-key-" + "b" * 56
SESSION = {"code": "98960", "minutes": "20", "dx": "E11.9", "provider_role": "RN"}


def instance(tmp_path: Path, key: str, previous: str | None = None) -> Flask:
    """An app instance on the shared store with this key (and these earlier keys)."""
    forget_capabilities()
    context.forget()  # no worker memory of the launch's context: the new instance reads with the token
    profiles = tmp_path / "profiles"
    profiles.mkdir(exist_ok=True)
    write_profile(profiles, "test-ehr", client_auth="none")
    return create_app(
        {
            "TESTING": True,
            "SMART_EDU_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "SMART_EDU_LAUNCH_CONFIG": str(profiles),
            "SMART_EDU_BASE_URL": "https://app.test",
            "SMART_EDU_SECRET_KEY": key,
            "SMART_EDU_SECRET_KEY_PREVIOUS": previous,
        }
    )


def same_browser(app: Flask, before: FlaskClient) -> FlaskClient:
    """A client of ``app`` holding the binding cookie ``before`` got (the clinician's browser)."""
    cookie = before.get_cookie("smart_edu_bind")
    assert cookie is not None
    client = app.test_client()
    client.set_cookie("smart_edu_bind", cookie.value, domain=cookie.domain, path=cookie.path)
    return client


def sealed_tokens(app: Flask) -> list[tuple[str | None, str | None]]:
    with db_of(app).session() as s:
        return [(r.access_token, r.refresh_token) for r in s.query(LaunchRecord).order_by(LaunchRecord.id)]


def bearer_of_last_fhir_call(rsps: responses.RequestsMock) -> str | None:
    fhir = [c for c in rsps.calls if str(c.request.url).startswith(f"{ISS}/Patient/")]
    return fhir[-1].request.headers.get("Authorization") if fhir else None


def test_an_open_launch_and_form_survive_the_rotation_and_new_data_uses_only_the_new_key(
    tmp_path: Path, rsps: Any
) -> None:
    ehr = FakeEhr(commercial_diabetes())
    before, handle = launched(instance(tmp_path, OLD), rsps, ehr)
    page = before.get(f"/s/{handle}/")
    assert page.status_code == 200
    old_form_token = csrf_of(page.get_data(as_text=True))

    rotated = instance(tmp_path, NEW, previous=f"unrelated-key, {OLD}")
    browser = same_browser(rotated, before)
    checked = browser.post(f"/s/{handle}/evaluate", data=SESSION, headers={"X-CSRF-Token": old_form_token})
    assert checked.status_code == 200, checked.get_data(as_text=True)  # old form, old-key token: accepted
    page = browser.get(f"/s/{handle}/")
    assert page.status_code == 200
    assert csrf_of(page.get_data(as_text=True)) != old_form_token  # forms are signed with the new key now
    launch = launch_of(rotated, browser, handle)
    assert launch.fhir_client().read("Patient", "pat-1")["id"] == "pat-1"
    assert bearer_of_last_fhir_call(rsps) == "Bearer at-1"  # the token sealed under the old key, unsealed

    # a refresh without a new refresh token keeps the old one, sealed again under the new key
    rsps.replace(responses.POST, TOKEN, json=token_response(access_token="at-2", refresh_token=None))
    assert launch.refresh()
    [(access, refresh)] = sealed_tokens(rotated)
    assert (TokenSealer(NEW).unseal(access), TokenSealer(NEW).unseal(refresh)) == ("at-2", "rt-1")
    assert (TokenSealer(OLD).unseal(access), TokenSealer(OLD).unseal(refresh)) == (None, None)

    rsps.replace(responses.POST, TOKEN, json=token_response(access_token="at-3", refresh_token="rt-3"))
    launched(rotated, rsps, ehr)  # a launch begun after the switch
    access, refresh = sealed_tokens(rotated)[-1]
    assert (TokenSealer(NEW).unseal(access), TokenSealer(NEW).unseal(refresh)) == ("at-3", "rt-3")
    assert TokenSealer(OLD).unseal(access) is None


@pytest.mark.parametrize("previous", [None, "some-other-key"])
def test_after_the_old_key_is_dropped_its_launch_asks_for_a_relaunch_and_its_form_for_a_reload(
    tmp_path: Path, rsps: Any, previous: str | None
) -> None:
    ehr = FakeEhr(commercial_diabetes())
    before, handle = launched(instance(tmp_path, OLD), rsps, ehr)
    old_form_token = csrf_of(before.get(f"/s/{handle}/").get_data(as_text=True))

    browser = same_browser(instance(tmp_path, NEW, previous=previous), before)
    page = browser.get(f"/s/{handle}/")
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "This launch has ended" in text and "Open the app again from your EHR" in text
    form = browser.post(f"/s/{handle}/evaluate", data=SESSION, headers={"X-CSRF-Token": old_form_token})
    assert form.status_code == 400 and "This form has expired" in form.get_data(as_text=True)


def test_the_sealer_reads_with_every_accepted_key_and_seals_with_the_current_one_only() -> None:
    under_old = TokenSealer(OLD).seal("at-1")
    rotated = TokenSealer(NEW, [OLD, "older"])
    assert rotated.unseal(under_old) == "at-1"
    resealed = rotated.seal("at-1")
    assert TokenSealer(NEW).unseal(resealed) == "at-1" and TokenSealer(OLD).unseal(resealed) is None
    assert TokenSealer(NEW).unseal(under_old) is None  # dropped: unreadable, never an exception
    assert TokenSealer(NEW, ["older"]).unseal("not a sealed token") is None
