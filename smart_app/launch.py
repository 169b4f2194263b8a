"""The ``launch`` blueprint: ``/launch``, ``/callback``, ``/.well-known/jwks.json``, ``/healthz``.

Flow: ``/launch`` checks the issuer against the profiles (unknown → 400, no outbound request), discovers the
endpoints, stores state + PKCE verifier server-side, sets the binding cookie and sends the browser through
``/launch/proceed`` — a one-hop cookie check made before the EHR's one-time launch token is spent, so a frame
that blocks the cookie can still offer to open the app in a new window. ``/callback`` refuses what it cannot
bind to this browser before any token request, exchanges the code, checks the answer and the id_token, and
hands the browser an opaque launch handle.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from sqlalchemy import text
from werkzeug.wrappers import Response

from smart_app.clock import utcnow
from smart_app.config import current_settings
from smart_app.launches import (
    binding_problem,
    db_of,
    expiry,
    profiles_of,
    render_problem,
    sealer_of,
    smart_of,
)
from smart_app.logs import event
from smart_app.profiles import Profile
from smart_app.security import BINDING_COOKIE
from smart_app.smart import oauth
from smart_app.smart.client_auth import public_jwk
from smart_app.smart.errors import ClientConfigError, SmartError, TokenResponseError
from smart_app.smart.id_token import verify_id_token
from smart_app.smart.tokens import check_token_response, context_from_token, relative_reference
from smart_app.store import LaunchRecord, binding_hash, claim_state, find_by_state, new_secret

bp = Blueprint("launch", __name__)
log = logging.getLogger(__name__)
Page = Response | tuple[str, int]


@bp.get("/launch")
def launch() -> Page:
    """EHR launch (``iss`` + ``launch``) or standalone launch (``iss`` only)."""
    iss = request.args.get("iss", "")
    profile = profiles_of(current_app).by_iss(iss)
    if profile is None:
        return render_problem(
            "This EHR is not registered with the app",
            "The launch came from a FHIR server the app has no profile for, so it was refused. "
            "Ask your administrator to add a launch profile for it.",
            400,
        )
    if profile.auth != "smart":
        return render_problem(
            "This server has no SMART authorization", "Open servers are used by sandbox-test.", 400
        )
    launch_param = request.args.get("launch") or None
    try:
        return _start(profile, launch_param)
    except ClientConfigError as exc:
        event(log, "launch.start", level=logging.ERROR, outcome="misconfigured", profile=profile.name,
              reason=exc.message)  # fmt: skip
        return render_problem("The app is not set up for this EHR yet", "Ask your administrator.", exc.status)
    except SmartError as exc:
        event(log, "launch.start", level=logging.WARNING, outcome="failed", profile=profile.name,
              reason=exc.message, http_status=exc.status)  # fmt: skip
        return render_problem("The app could not reach your EHR's sign-in service", exc.message, exc.status)


def _start(profile: Profile, launch_param: str | None) -> Response:
    endpoints = smart_of(current_app).discovery.endpoints(profile)
    cookie = request.cookies.get(BINDING_COOKIE) or new_secret(32)
    state = new_secret(32)
    verifier = oauth.new_code_verifier() if oauth.use_pkce(profile, endpoints) else None
    redirect_uri = _base_url() + "/callback"
    url = oauth.authorize_url(
        profile,
        endpoints,
        redirect_uri=redirect_uri,
        state=state,
        code_verifier=verifier,
        launch=launch_param,
        nonce=new_secret(32),
    )
    with db_of(current_app).session() as s:
        s.add(
            LaunchRecord(
                state=state,
                binding=binding_hash(cookie),
                profile_name=profile.name,
                iss=profile.iss,
                launch_type="ehr" if launch_param else "standalone",
                launch_param=launch_param,
                code_verifier=verifier,
                redirect_uri=redirect_uri,
                authorize_url=url,
                expires_at=utcnow() + timedelta(seconds=current_settings().state_ttl),
            )
        )
    event(log, "launch.start", outcome="redirected", profile=profile.name,
          launch_type="ehr" if launch_param else "standalone")  # fmt: skip
    resp = redirect(url_for("launch.proceed", s=state))
    _set_binding_cookie(resp, cookie)
    return resp


@bp.get("/launch/proceed")
def proceed() -> Page:
    """Go on to the authorize endpoint only if the binding cookie came back (else offer a new window)."""
    with db_of(current_app).session() as s:
        record = find_by_state(s, request.args.get("s", ""))
        if record is None or record.state_used_at is not None or record.expires_at < utcnow():
            return render_problem("This launch link is not valid", "Open the app again from your EHR.", 400)
        problem = binding_problem(record.binding, missing_status=400, new_window_url=_relaunch_url(record))
        if problem is not None:
            return problem
        return redirect(str(record.authorize_url))


@bp.get("/callback")
def callback() -> Page:
    """The authorization server's redirect: validate, exchange, check, then open the launch's first page."""
    if request.args.get("error"):
        return _authorization_error()
    with db_of(current_app).session() as s:
        record = find_by_state(s, request.args.get("state", ""))
        if record is None:
            return render_problem("Unknown sign-in response", "Open the app again from your EHR.", 400)
        problem = binding_problem(record.binding, missing_status=400)
        if problem is not None:
            return problem
        if record.expires_at < utcnow() or not claim_state(s, record.id, utcnow()):
            return render_problem(
                "This sign-in response has expired or was already used",
                "Open the app again from your EHR.",
                400,
            )
        s.commit()
        if not request.args.get("code"):
            return render_problem(
                "The EHR sent no authorization code", "Open the app again from your EHR.", 400
            )
        profile = profiles_of(current_app).by_name(record.profile_name)
        if profile is None:
            return render_problem("This EHR is no longer configured", "Ask your administrator.", 400)
        try:
            handle = _finish(record, profile, request.args["code"])
        except SmartError as exc:
            record.status, record.error = "failed", exc.message
            event(log, "launch.callback", level=logging.WARNING, outcome="refused", profile=profile.name,
                  reason=exc.message, http_status=exc.status)  # fmt: skip
            missing = exc.missing_scopes if isinstance(exc, TokenResponseError) else ()
            return render_problem(
                "The launch could not be completed", exc.message, exc.status, missing=missing
            )
    return redirect(url_for("document.context", handle=handle))


def _finish(record: LaunchRecord, profile: Profile, code: str) -> str:
    smart = smart_of(current_app)
    endpoints = smart.discovery.endpoints(profile)
    token = oauth.exchange_code(
        profile,
        endpoints,
        code=code,
        redirect_uri=record.redirect_uri,
        code_verifier=record.code_verifier,
        timeout=smart.timeout,
    )
    requested = oauth.launch_scopes(profile, ehr_launch=record.launch_type == "ehr")
    granted = check_token_response(token, requested=requested, needed=profile.needed_scopes)
    fhir_user = None
    if token.get("id_token"):
        claims = verify_id_token(
            str(token["id_token"]),
            client_id=profile.resolved_client_id(),
            fhir_base=profile.iss,
            endpoints=endpoints,
            jwks=smart.jwks,
            nonce=oauth.sent_nonce(record.authorize_url),
        )
        fhir_user = relative_reference(_str(claims.get("fhirUser")), profile.iss)
    context = context_from_token(token, fhir_user=fhir_user)
    handle = new_secret(32)
    record.handle = handle
    record.status = "active"
    record.code_verifier = None
    sealer = sealer_of(current_app)
    record.access_token = sealer.seal(str(token["access_token"]))
    record.refresh_token = sealer.seal(_str(token.get("refresh_token")))
    record.token_expires_at = expiry(token)
    record.scope = " ".join(granted)
    record.context_json = json.dumps(context.to_dict())
    record.id_token_verified = fhir_user is not None
    record.expires_at = utcnow() + timedelta(seconds=current_settings().launch_ttl)
    event(log, "launch.callback", outcome="active", profile=profile.name, launch_type=record.launch_type,
          id_token_verified=fhir_user is not None)  # fmt: skip
    return handle


def _authorization_error() -> Page:
    """The EHR's error, shown in its words only for a launch this browser started (anyone can craft the
    query string: unbound text would let a link put a phishing message on the app's own page)."""
    error = request.args.get("error", "")
    with db_of(current_app).session() as s:
        record = find_by_state(s, request.args.get("state", ""))
        cookie = request.cookies.get(BINDING_COOKIE)
        bound = bool(
            record is not None and cookie and hmac.compare_digest(binding_hash(cookie), record.binding)
        )
        if bound and record is not None:
            record.status, record.error = "failed", error
    if not bound:
        return render_problem("Unknown sign-in response", "Open the app again from your EHR.", 400)
    title = "You declined access" if error == "access_denied" else "Your EHR refused the sign-in"
    return render_problem(
        title,
        "The app was not given access, so it cannot show this patient. Open it again from your EHR to retry.",
        403 if error == "access_denied" else 400,
        error_code=error[:100],
        error_description=(request.args.get("error_description") or "")[:500] or None,
    )


def _relaunch_url(record: LaunchRecord) -> str:
    params = {"iss": record.iss, **({"launch": record.launch_param} if record.launch_param else {})}
    return url_for("launch.launch") + "?" + urlencode(params)


def _set_binding_cookie(resp: Response, value: str) -> None:
    resp.set_cookie(
        BINDING_COOKIE,
        value,
        max_age=current_settings().launch_ttl,
        path="/",
        secure=current_settings().cookie_secure,
        httponly=True,
        samesite="None",
        partitioned=current_settings().cookie_secure,
    )


def _base_url() -> str:
    configured = current_settings().base_url
    return str(configured or request.url_root).rstrip("/")


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """Public keys of the private_key_jwt profiles whose keys are configured."""
    keys = [k for k in (public_jwk(p) for p in profiles_of(current_app)) if k]
    resp = jsonify({"keys": keys})
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        with db_of(current_app).session() as s:
            s.execute(text("SELECT 1"))
    except Exception:  # a health probe reports, it does not raise
        log.exception("health check: database unreachable")
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "profiles": len(profiles_of(current_app))}), 200
