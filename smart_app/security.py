"""Security headers and CSRF protection for every page (DESIGN.md §3 "Security by default").

CSRF tokens are an HMAC of the browser's binding cookie and the launch handle, so they need no session cookie
(which EHR frames may drop) and a token from one launch or browser is worthless in another. Every unsafe
request under ``/s/`` is checked before its view runs; other blueprints call ``require_csrf()`` themselves.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, abort, current_app, g, request

from smart_app.config import frame_ancestors

BINDING_COOKIE = "smart_edu_bind"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CACHEABLE_PATHS = ("/healthz", "/.well-known/jwks.json", "/static/")


def csrf_token() -> str:
    """The token to put in every form of this page (``{{ csrf_token() }}`` in templates)."""
    binding = request.cookies.get(BINDING_COOKIE, "")
    launch = getattr(g, "launch", None)
    scope = str((request.view_args or {}).get("handle") or (launch.handle if launch is not None else ""))
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"csrf|{binding}|{scope}".encode(), hashlib.sha256).hexdigest()


def require_csrf() -> None:
    """Abort with 400 unless the request carries this page's CSRF token (form field or header)."""
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not request.cookies.get(BINDING_COOKIE) or not hmac.compare_digest(sent, csrf_token()):
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


def init_app(app: Flask, profile_origins: list[str]) -> None:
    csp = content_security_policy(frame_ancestors(app, profile_origins))
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _csrf_on_launch_pages() -> None:
        if request.method in UNSAFE_METHODS and request.path.startswith("/s/"):
            require_csrf()

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
