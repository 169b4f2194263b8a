"""Per-launch access for the ``/s/<handle>/…`` routes: the launch record, its context and a FHIR client.

``launch_required`` checks the handle AND the browser binding cookie, then puts a ``Launch`` on ``g.launch``.
``Launch.fhir_client()`` gives a client whose token is refreshed shortly before expiry and once after a 401;
when refreshing fails it raises ``FhirUnauthorized``, which every route turns into the "relaunch from your
EHR" page (drafts are saved server-side, so nothing typed is lost).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, render_template, request
from werkzeug.wrappers import Response

from smart_app import db_of
from smart_app.clock import utcnow
from smart_app.config import secret_key_fallbacks, settings_of
from smart_app.fhir_client import DEFAULT_TIMEOUT, FhirClient, FhirUnauthorized
from smart_app.logs import event
from smart_app.profiles import Profile, ProfileRegistry
from smart_app.security import BINDING_COOKIE
from smart_app.smart import oauth
from smart_app.smart.app_context import stored_app_context
from smart_app.smart.errors import SmartError
from smart_app.smart.services import SmartServices
from smart_app.store import (
    Database,
    LaunchRecord,
    TokenSealer,
    binding_hash,
    find_by_handle,
    find_with_context_stamp,
    swap_tokens,
)

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class LaunchView:
    """The context of one launch, as the pages use it."""

    patient: str | None
    encounter: str | None
    fhir_user: str | None
    need_patient_banner: bool
    smart_style_url: str | None
    intent: str | None
    tenant: str | None
    iss: str
    profile: str
    app_context: dict[str, str] | None = None  # from a CDS card's smart link (untrusted; parsed at launch)


@dataclass
class Launch:
    """One active launch: its handle, profile, context, and the means to call its FHIR server."""

    record_id: int
    handle: str
    profile: Profile
    context: LaunchView
    db: Database
    smart: SmartServices
    sealer: TokenSealer
    refresh_margin: float = 60.0
    fhir_timeout: tuple[float, float] = DEFAULT_TIMEOUT
    # When the page last read the EHR for this launch (None: not yet), loaded with the record in one query,
    # so the live check knows whether its worker's remembered context is current without asking again.
    context_read_at: datetime | None = None
    _sealed_access: str | None = field(default=None, repr=False)  # as stored: the compare-and-set key
    _access_token: str | None = field(default=None, repr=False)
    _expires_at: datetime | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fhir_client(self) -> FhirClient:
        """A FHIR client for this launch's server, with bearer token and refresh wired in."""
        if self.profile.auth == "none":
            return FhirClient(
                self.profile.iss, extra_headers=dict(self.profile.fhir_headers), timeout=self.fhir_timeout
            )
        return FhirClient(
            self.profile.iss,
            token_provider=self._token,
            refresher=self.refresh,
            extra_headers=dict(self.profile.fhir_headers),
            timeout=self.fhir_timeout,
        )

    def _token(self) -> str | None:
        expires = self._expires_at
        due = expires is not None and utcnow() + timedelta(seconds=self.refresh_margin) >= expires
        if due and not self.refresh() and expires is not None and utcnow() >= expires:
            raise FhirUnauthorized("the access token expired and could not be refreshed", status=401)
        return self._access_token

    def refresh(self) -> bool:
        """Refresh the access token once; True when a new one is available (also if another worker did)."""
        with self._lock, self.db.session() as s:
            record = find_by_handle(s, self.handle)
            if record is None or record.status != "active":
                return False
            if record.access_token != self._sealed_access:  # refreshed elsewhere meanwhile
                return self._adopt(record)
            refresh_token = self.sealer.unseal(record.refresh_token)
            if not refresh_token:
                return False
            try:
                endpoints = self.smart.discovery.endpoints(self.profile)
                token = oauth.refresh(
                    self.profile, endpoints, refresh_token=refresh_token, timeout=self.smart.timeout
                )
            except SmartError as exc:
                name = self.profile.name
                event(log, "token.refresh", level=logging.WARNING, outcome="failed", profile=name,
                      reason=exc.message, http_status=exc.status)  # fmt: skip
                return False
            sealed = self.sealer.seal(str(token["access_token"]))
            expires_at = expiry(token)
            swapped = swap_tokens(
                s,
                record.id,
                old_access_token=self._sealed_access,
                access_token=str(sealed),
                # the one kept when the server issues none is sealed again: under the current key only
                refresh_token=self.sealer.seal(_new_refresh_token(token) or refresh_token),
                expires_at=expires_at,
            )
            if not swapped:
                s.refresh(record)
                event(log, "token.refresh", outcome="adopted", profile=self.profile.name)
                return self._adopt(record)
            self._sealed_access, self._access_token = sealed, str(token["access_token"])
            self._expires_at = expires_at
            event(log, "token.refresh", outcome="ok", profile=self.profile.name)
            return True

    def _adopt(self, record: LaunchRecord) -> bool:
        """Take over tokens another request stored; False if they cannot be read."""
        self._sealed_access, self._expires_at = record.access_token, record.token_expires_at
        self._access_token = self.sealer.unseal(record.access_token)
        return self._access_token is not None


def _new_refresh_token(token: dict[str, Any]) -> str | None:
    value = token.get("refresh_token")
    return value if isinstance(value, str) and value else None


def expiry(token: dict[str, Any]) -> datetime | None:
    expires_in = token.get("expires_in")
    try:
        return utcnow() + timedelta(seconds=int(expires_in)) if expires_in is not None else None
    except (TypeError, ValueError):
        return None


def profiles_of(app: Flask) -> ProfileRegistry:
    return cast(ProfileRegistry, app.extensions["smart_edu_profiles"])


def smart_of(app: Flask) -> SmartServices:
    return cast(SmartServices, app.extensions["smart_edu_smart"])


def sealer_of(app: Flask) -> TokenSealer:
    """The app's token sealer, made once per secret key and earlier keys (deriving the keys on every request
    cost more than the unsealing itself): seals with ``SECRET_KEY``, unseals with it or a fallback."""
    keys = (str(app.config["SECRET_KEY"]), *secret_key_fallbacks(app))
    made = app.extensions.get("smart_edu_sealer")
    if not (isinstance(made, tuple) and made[0] == keys):
        made = (keys, TokenSealer(keys[0], keys[1:]))
        app.extensions["smart_edu_sealer"] = made
    sealer: TokenSealer = made[1]
    return sealer


def render_problem(title: str, message: str, status: int, **extra: Any) -> tuple[str, int]:
    """A plain page that says what went wrong and what to do; never shows a token."""
    return render_template("launch/problem.html", title=title, message=message, **extra), status


def binding_problem(
    binding: str, *, missing_status: int, new_window_url: str | None = None
) -> tuple[str, int] | None:
    """The page to show when this browser does not hold the launch's binding cookie, else None.

    One check for ``/callback``, ``/launch/proceed`` and every ``/s/<handle>/`` page: a frame that blocks the
    third-party cookie (offer a new window where one can still work) and another browser (never continue).
    """
    cookie = request.cookies.get(BINDING_COOKIE)
    if not cookie:
        return render_problem(
            "Your browser blocked this app's cookie",
            "The EHR frame did not pass on the cookie that ties this launch to your browser, "
            "so the app stopped.",
            missing_status,
            cookie_blocked=True,
            new_window_url=new_window_url,
        )
    if not hmac.compare_digest(binding_hash(cookie), binding):
        return render_problem(
            "This launch was started in another browser",
            "For your safety the app only continues a launch in the browser that started it. "
            "Open the app again from your EHR in this browser.",
            403,
        )
    return None


def load_launch(handle: str) -> Launch | tuple[str, int]:
    """The launch for a handle if this browser started it, else the page to show instead."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with db_of(app).session() as s:
        record, context_read_at = find_with_context_stamp(s, handle)
        if record is None or record.status != "active" or record.expires_at < utcnow():
            return render_problem(
                "This launch has ended", "Open the app again from your EHR to start a new launch.", 404
            )
        problem = binding_problem(record.binding, missing_status=401)
        if problem is not None:
            return problem
        profile = profiles_of(app).by_name(record.profile_name)
        if profile is None:
            return render_problem("This EHR is no longer configured", "Ask your administrator.", 403)
        sealer = sealer_of(app)
        access_token = sealer.unseal(record.access_token)
        if record.access_token and access_token is None:  # sealed under a former secret key
            return render_problem(
                "This launch has ended", "Open the app again from your EHR to start a new launch.", 404
            )
        ctx = record.context
        view = LaunchView(
            patient=ctx.get("patient"),
            encounter=ctx.get("encounter"),
            fhir_user=ctx.get("fhir_user"),
            need_patient_banner=bool(ctx.get("need_patient_banner", True)),
            smart_style_url=ctx.get("smart_style_url"),
            intent=ctx.get("intent"),
            tenant=ctx.get("tenant"),
            iss=record.iss,
            profile=record.profile_name,
            app_context=stored_app_context(ctx.get("app_context")),
        )
        return Launch(
            record_id=record.id,
            handle=handle,
            profile=profile,
            context=view,
            db=db_of(app),
            smart=smart_of(app),
            sealer=sealer,
            refresh_margin=settings_of(app).refresh_margin,
            fhir_timeout=settings_of(app).fhir_timeout,
            _sealed_access=record.access_token,
            _access_token=access_token,
            _expires_at=record.token_expires_at,
            context_read_at=context_read_at,
        )


def launch_required(view: F) -> F:
    """For ``/s/<handle>/…`` views: refuse unknown handles and other browsers; set ``g.launch``."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        found = load_launch(str(kwargs.get("handle", "")))
        if not isinstance(found, Launch):
            return found
        g.launch = found
        return view(*args, **kwargs)

    return cast(F, wrapped)


def init_app(app: Flask) -> None:
    @app.errorhandler(FhirUnauthorized)
    def _relaunch(_exc: FhirUnauthorized) -> tuple[str, int] | Response:
        return render_template("launch/relaunch.html"), 401
