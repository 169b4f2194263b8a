"""CSRF protection for the sandbox's own forms (launcher, standalone login): a per-session token."""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

FIELD = "csrf_token"


def csrf_token() -> str:
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return str(session[FIELD])


def check_csrf() -> None:
    """Abort with 400 unless the form carries this session's token."""
    sent = request.form.get(FIELD, "")
    expected = session.get(FIELD, "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="CSRF token missing or wrong; reload the page")
