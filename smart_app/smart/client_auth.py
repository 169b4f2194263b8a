"""Client authentication at the token endpoint: none, client_secret_basic, private_key_jwt (smart-fhir §1.6).

Authlib does the signing; two SMART details are added on top: the Basic credentials are form-urlencoded before
base64 (RFC 6749 §2.3.1; Epic insists), and the private-key assertion lives at most five minutes with a fresh
``jti`` each time (Authlib's default is an hour).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from smart_app.profiles import Profile, ProfileError
from smart_app.smart.errors import ClientConfigError

ASSERTION_LIFETIME = 300


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """``private_key_jwt`` whose assertion expires within five minutes, as SMART requires."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return str(
            private_key_jwt_sign(
                auth.client_secret,
                client_id=auth.client_id,
                token_endpoint=token_endpoint,
                claims=dict(self.claims or {}),
                header=self.headers,
                alg=self.alg,
                expires_in=ASSERTION_LIFETIME,
            )
        )


def encode_basic_urlencoded(
    client: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """HTTP Basic with each part form-urlencoded first (RFC 6749 §2.3.1)."""
    text = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
    headers["Authorization"] = "Basic " + base64.b64encode(text.encode("utf-8")).decode("ascii")
    return uri, headers, body


def load_private_key(profile: Profile) -> RSAKey | ECKey:
    """The profile's signing key from its environment variable (RS384 → RSA, ES384 → EC P-384)."""
    try:
        pem = profile.private_key_pem()
    except ProfileError as exc:
        raise ClientConfigError(str(exc)) from exc
    return import_signing_key(pem, profile.alg, f"profile {profile.name!r}")


def import_signing_key(pem: str, alg: str, where: str) -> RSAKey | ECKey:
    """A PEM private key as the joserfc key Authlib needs for ``alg`` (an EC key cannot stay a PEM string)."""
    try:
        key: RSAKey | ECKey = ECKey.import_key(pem) if alg == "ES384" else RSAKey.import_key(pem)
    except (JoseError, ValueError, TypeError) as exc:
        raise ClientConfigError(f"{where}: the private key is not a valid {alg} key") from exc
    if not key.is_private:
        raise ClientConfigError(f"{where}: the key is a public key; the private key is needed to sign")
    return key


def oauth_session(profile: Profile, token_endpoint: str, *, redirect_uri: str | None = None) -> OAuth2Session:
    """An Authlib session configured with the profile's client id and client authentication."""
    try:
        client_id = profile.resolved_client_id()
        secret: Any = None
        if profile.client_auth == "client_secret_basic":
            secret = profile.client_secret()
    except ProfileError as exc:
        raise ClientConfigError(str(exc)) from exc
    if profile.client_auth == "private_key_jwt":
        secret = load_private_key(profile)
    session = OAuth2Session(
        client_id,
        secret,
        token_endpoint_auth_method=profile.client_auth,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    if profile.client_auth == "client_secret_basic":
        session.register_client_auth_method(("client_secret_basic", encode_basic_urlencoded))
    if profile.client_auth == "private_key_jwt":
        headers: dict[str, str] = {"kid": profile.key_id or "", "typ": "JWT"}
        session.register_client_auth_method(
            ShortLivedPrivateKeyJWT(token_endpoint, alg=profile.alg, headers=headers)
        )
    return session


def public_jwk(profile: Profile) -> dict[str, Any] | None:
    """The public half of a private_key_jwt profile's key, for ``/.well-known/jwks.json`` (None if unset)."""
    if profile.client_auth != "private_key_jwt":
        return None
    try:
        key = load_private_key(profile)
    except ClientConfigError:
        return None
    jwk: dict[str, Any] = dict(key.as_dict(private=False))
    jwk.update({"kid": profile.key_id, "alg": profile.alg, "use": "sig"})
    return jwk
