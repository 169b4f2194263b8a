"""A second, separate session of the same code on the same visit and day: a new draft gets new identifiers (it
is not mistaken for the first), and the clinician must acknowledge the possible duplicate before it is
written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fhir_mappings import extensions as ext
from smart_app.point_of_care import context
from tests.http.document_kit import FakeEhr, app_for, commercial_diabetes, launched
from tests.http.test_document_sign import documented, review, sign_form


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    context.forget()
    return app_for(tmp_path)


def our_ids(ehr: FakeEhr, resource_type: str) -> list[str]:
    return [
        i["value"]
        for r in ehr.created
        if r["resourceType"] == resource_type
        for i in r.get("identifier", [])
        if i.get("system") == ext.IDENTIFIER_SYSTEM
    ]


def test_a_second_same_code_session_warns_then_gets_its_own_identifiers(app: Flask, rsps: Any) -> None:
    ehr = FakeEhr(commercial_diabetes())
    client, handle = launched(app, rsps, ehr)
    documented(client, handle)
    first = sign_form(review(client, handle))
    client.post(f"/s/{handle}/sign", data=first)
    client.get(f"/s/{handle}/")  # "document another service"
    documented(client, handle)
    html = review(client, handle)
    assert 'value="duplicate.charge"' in html  # the clinician is asked
    second = sign_form(html, acknowledge=False)
    assert second["draft_id"] != first["draft_id"]
    assert client.post(f"/s/{handle}/sign", data=second).status_code == 422  # not without a reason
    assert len(our_ids(ehr, "ChargeItem")) == 1
    client.post(f"/s/{handle}/sign", data=sign_form(html))
    charges, notes = our_ids(ehr, "ChargeItem"), our_ids(ehr, "DocumentReference")
    assert len(charges) == len(set(charges)) == 2 and len(notes) == len(set(notes)) == 2
