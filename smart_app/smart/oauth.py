"""The authorization request, the code exchange and the refresh (SMART App Launch 2 §1.5-1.8), over Authlib.

Authlib's ``OAuth2Session`` builds the PKCE S256 challenge and the token requests; this module adds what SMART
needs on top (``launch``, ``aud``, the scope additions) and turns every failure into one ``TokenError``. It
keeps no state: the caller stores state, verifier and tokens server-side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError

from smart_app.profiles import Profile
from smart_app.smart.client_auth import oauth_session
from smart_app.smart.discovery import SmartEndpoints
from smart_app.smart.errors import DiscoveryError, TokenError

DEFAULT_TIMEOUT = (3.05, 15.0)


def new_code_verifier() -> str:
    """A PKCE verifier of 64 characters from the unreserved set (RFC 7636 §4.1: 43-128)."""
    return str(generate_token(64))


def launch_scopes(profile: Profile, *, ehr_launch: bool) -> list[str]:
    """The profile's scopes plus ``launch`` (EHR launch) or ``launch/patient`` (standalone)."""
    extra = "launch" if ehr_launch else "launch/patient"
    return [*profile.scopes, *([extra] if extra not in profile.scopes else [])]


def use_pkce(profile: Profile, endpoints: SmartEndpoints) -> bool:
    return profile.pkce == "required" or endpoints.supports_s256


def authorize_url(
    profile: Profile,
    endpoints: SmartEndpoints,
    *,
    redirect_uri: str,
    state: str,
    code_verifier: str | None,
    launch: str | None,
    nonce: str | None = None,
) -> str:
    """The URL the browser goes to: response_type=code, client_id, redirect_uri, scope, state, aud, PKCE,
    and the OpenID Connect ``nonce`` the id_token must echo (OIDC Core §3.1.2.1, not required by SMART)."""
    if not endpoints.authorization_endpoint:
        raise DiscoveryError("the server advertises no authorization endpoint")
    session = oauth_session(profile, endpoints.token_endpoint, redirect_uri=redirect_uri)
    session.scope = " ".join(launch_scopes(profile, ehr_launch=launch is not None))
    extra: dict[str, str] = {"aud": profile.iss}
    if launch is not None:
        extra["launch"] = launch
    if nonce is not None:
        extra["nonce"] = nonce
    url, _ = session.create_authorization_url(
        endpoints.authorization_endpoint, state=state, code_verifier=code_verifier, **extra
    )
    return str(url)


def sent_nonce(authorize_url: str | None) -> str | None:
    """The nonce of a stored authorization request (the launch record keeps the URL it sent)."""
    values = parse_qs(urlsplit(authorize_url or "").query).get("nonce")
    return values[0] if values else None


def exchange_code(
    profile: Profile,
    endpoints: SmartEndpoints,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Trade the authorization code for tokens, authenticating as the profile says."""
    session = oauth_session(profile, endpoints.token_endpoint, redirect_uri=redirect_uri)
    kwargs: dict[str, Any] = {"code": code, "timeout": timeout}
    if code_verifier:
        kwargs["code_verifier"] = code_verifier
    return _token_call(lambda: session.fetch_token(endpoints.token_endpoint, **kwargs), "code exchange")


def refresh(
    profile: Profile,
    endpoints: SmartEndpoints,
    *,
    refresh_token: str,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Use a refresh token once; the answer may carry a new refresh token that replaces the old one."""
    session = oauth_session(profile, endpoints.token_endpoint)
    return _token_call(
        lambda: session.refresh_token(endpoints.token_endpoint, refresh_token=refresh_token, timeout=timeout),
        "token refresh",
    )


def _token_call(call: Any, what: str) -> dict[str, Any]:
    try:
        token = call()
    except OAuthError as exc:
        desc = f": {exc.description}" if exc.description else ""
        raise TokenError(
            f"the authorization server refused the {what} ({exc.error}{desc})", error=exc.error
        ) from exc
    except requests.RequestException as exc:
        raise TokenError(f"no answer from the authorization server during the {what}") from exc
    except ValueError as exc:
        raise TokenError(f"the authorization server's answer to the {what} was not JSON") from exc
    if not isinstance(token, Mapping) or not token.get("access_token"):
        raise TokenError(f"the {what} returned no access token")
    return dict(token)
