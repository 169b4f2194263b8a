"""The live check's cost in the store, counted at the cursor: after the page has loaded, each check (a pause
in typing) is at most ONE write transaction (the draft's conditional UPDATE) and ONE read (the launch record
with its cached context's stamp, in one query); nothing the request already holds is read again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from sqlalchemy import event

from smart_app.launches import db_of
from smart_app.point_of_care import context as document_context
from smart_app.point_of_care import drafts
from tests.http.document_kit import FakeEhr, app_for, commercial_diabetes, csrf_of, draft_id_of, launched
from tests.http.test_document_sign import SESSION

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    document_context.forget()
    return app_for(tmp_path)


@contextmanager
def statements(app: Flask) -> Iterator[list[tuple[str, int]]]:
    """Every SQL statement sent to the store, with the DBAPI connection it went through."""
    seen: list[tuple[str, int]] = []
    engine = db_of(app).engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("PRAGMA"):
            seen.append((statement.lstrip().split(None, 1)[0].upper(), id(conn.connection)))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def typed(minutes: int) -> dict[str, Any]:
    return SESSION | {"minutes": str(minutes)}


def test_each_check_after_the_first_is_one_write_and_one_read(
    app: Flask, rsps: responses.RequestsMock
) -> None:
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    page = client.get(f"/s/{handle}/").get_data(as_text=True)
    token, draft_id = csrf_of(page), draft_id_of(page)
    first = client.post(
        f"/s/{handle}/evaluate", data=typed(20) | {"draft_id": draft_id}, headers={"X-CSRF-Token": token}
    )
    draft_id = first.json["draft_id"]
    for minutes in range(21, 31):
        with statements(app) as seen:
            resp = client.post(
                f"/s/{handle}/evaluate",
                data=typed(minutes) | {"draft_id": draft_id},
                headers={"X-CSRF-Token": token},
            )
        assert resp.status_code == 200 and resp.json["draft_id"] == draft_id
        kinds = [kind for kind, _ in seen]
        assert [k for k in kinds if k in WRITES] == ["UPDATE"], kinds
        assert kinds.count("SELECT") <= 1, kinds
    saved = drafts.get(db_of(app), draft_id)
    assert saved is not None and saved.fields["minutes"] == "30"  # the last check is what the store keeps


def test_a_check_over_the_body_limit_gets_a_json_413_the_page_can_show(
    tmp_path: Path, rsps: responses.RequestsMock
) -> None:
    from tests.http.smart_kit import make_app

    app = make_app(tmp_path)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    client, handle = launched(app, rsps, FakeEhr(commercial_diabetes()))
    token = csrf_of(client.get(f"/s/{handle}/").get_data(as_text=True))
    big = typed(20) | {"response": "x" * 10_000}
    resp = client.post(
        f"/s/{handle}/evaluate", data=big, headers={"X-CSRF-Token": token, "Accept": "application/json"}
    )
    assert resp.status_code == 413 and "too large" in resp.json["error"]
    form = client.post(
        f"/s/{handle}/evaluate", data=big, headers={"X-CSRF-Token": token, "Accept": "text/html"}
    )
    assert form.status_code == 413 and not form.is_json
