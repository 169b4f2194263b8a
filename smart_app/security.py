"""Security headers and CSRF protection for every page (DESIGN.md §3 "Security by default").

CSRF tokens are an HMAC of the browser's binding cookie and the launch handle, so they need no session cookie
(which EHR frames may drop) and a token from one launch or browser is worthless in another. Every unsafe
request under ``/s/`` is checked before its view runs; other blueprints call ``require_csrf()`` themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

from flask import Flask, Response, abort, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from smart_app.config import frame_ancestors, secret_key_fallbacks

BINDING_COOKIE = "smart_edu_bind"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CACHEABLE_PATHS = ("/healthz", "/.well-known/jwks.json", "/static/")
FRAME_SOURCE = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")
log = logging.getLogger(__name__)


def csrf_token() -> str:
    """The token to put in every form of this page (``{{ csrf_token() }}`` in templates): always signed
    with the current secret key."""
    return _csrf_with(str(current_app.config["SECRET_KEY"]))


def _csrf_with(key: str) -> str:
    binding = request.cookies.get(BINDING_COOKIE, "")
    launch = getattr(g, "launch", None)
    scope = str((request.view_args or {}).get("handle") or (launch.handle if launch is not None else ""))
    return hmac.new(key.encode("utf-8"), f"csrf|{binding}|{scope}".encode(), hashlib.sha256).hexdigest()


def require_csrf() -> None:
    """Abort with 400 unless the request carries this page's CSRF token (form field or header), signed with
    the current secret key or one being rotated out (a page opened before the rotation still submits)."""
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    keys = (str(current_app.config["SECRET_KEY"]), *secret_key_fallbacks(current_app))
    valid = [hmac.compare_digest(sent, _csrf_with(key)) for key in keys]  # every key: no early exit
    if not request.cookies.get(BINDING_COOKIE) or not any(valid):
        abort(
            400, description="This form has expired or came from another page. Reload the page and try again."
        )


def content_security_policy(ancestors: list[str]) -> str:
    """No inline script or style; framing only by the configured EHR origins."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors " + " ".join(["'self'", *ancestors]),
        ]
    )


def framing_sources(candidates: list[str]) -> list[str]:
    """The candidates that are plain CSP host sources (``https://ehr.example.org[:port]``, optionally
    ``https://*.example.org``). Anything else (``*``, ``https:``, quoted keywords, a ``;`` that would start a
    new directive) is dropped with a warning: one bad setting must not open the app to every framer."""
    good: list[str] = []
    for candidate in candidates:
        source = candidate.rstrip("/")
        if not FRAME_SOURCE.match(source):
            log.warning("frame-ancestors: ignoring %r (not an http(s) origin)", candidate)
        elif source not in good:
            good.append(source)
    return good


def init_app(app: Flask, profile_origins: list[str]) -> None:
    csp = content_security_policy(framing_sources(frame_ancestors(app, profile_origins)))
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _csrf_on_launch_pages() -> None:
        if request.method in UNSAFE_METHODS and request.path.startswith("/s/"):
            require_csrf()

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response | RequestEntityTooLarge:
        """A body over SMART_EDU_MAX_CONTENT_LENGTH: the page's JSON API (and any JSON client) gets a JSON
        message it can show, a browser form the plain 413 page."""
        if request.accept_mimetypes.best == "application/json" or request.is_json:
            resp = jsonify({"error": "The request is too large to be saved. Shorten the longest text."})
            resp.status_code = 413
            return resp
        return exc

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", csp)
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers.setdefault("X-UA-Compatible", "IE=edge")
        if not request.path.startswith(CACHEABLE_PATHS):
            resp.headers["Cache-Control"] = "no-store"
            resp.headers["Pragma"] = "no-cache"
        return resp
