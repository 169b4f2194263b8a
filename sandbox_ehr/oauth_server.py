"""The SMART authorization server, assembled from Authlib's server components.

Authlib does the OAuth work (code grant, PKCE, refresh, client credentials, client authentication, OpenID
id_token); this module only adds what SMART asks beyond plain OAuth: PKCE S256 for every client,
``private_key_jwt`` (RS384/ES384), launch context in the token response, refresh tokens only for
``offline_access`` or ``online_access``, and SMART Backend Services: ``client_credentials`` for registered
asymmetric clients only, authenticated by a JWT assertion, granted ``system/`` scopes only, short-lived
tokens.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from sandbox_ehr.config import ClientConfig
from sandbox_ehr.scopes import covered, is_known_scope
from sandbox_ehr.tokens import AuthCode, LaunchContext, TokenRecord

if TYPE_CHECKING:
    from sandbox_ehr.app import SandboxState

AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
ASSERTION_ALGS = ["RS384", "ES384", "RS256", "ES256"]


class SandboxClient(ClientMixin):
    """Authlib's view of a client registered in the sandbox config."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    def get_client_id(self) -> str:
        return self.config.client_id

    def get_default_redirect_uri(self) -> str:
        return self.config.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = self.config.scope.split() if self.config.scope else None
        granted = [s for s in scope.split() if is_known_scope(s) and (allowed is None or covered(s, allowed))]
        if self.config.backend:  # no user and no launch: system scopes only
            granted = [s for s in granted if s.startswith("system/")]
        return " ".join(granted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.config.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        expected = self.config.client_secret or ""
        return bool(expected) and hmac.compare_digest(client_secret.encode(), expected.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.config.type == "confidential-symmetric":
            return method in ("client_secret_basic", "client_secret_post")
        return method == self.config.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "refresh_token":
            return "authorization_code" in self.config.grant_types
        return grant_type in self.config.grant_types


class SmartCodeChallenge(CodeChallenge):
    """PKCE for every client (SMART 2), S256 only; Authlib's own check lets confidential clients skip it."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE: 'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


def _sandbox(grant_or_ext: Any) -> SandboxState:
    return grant_or_ext.server.sandbox


class SmartCodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        st = _sandbox(self)
        data = request.payload.data
        st.tokens.save_code(
            AuthCode(
                code=code,
                client_id=request.client.get_client_id(),
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                context=request.user,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                nonce=data.get("nonce"),
                expires_at=time.time() + st.config.code_lifetime,
            )
        )

    def query_authorization_code(self, code: str, client: Any) -> AuthCode | None:
        return _sandbox(self).tokens.get_code(code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        _sandbox(self).tokens.delete_code(authorization_code.code)

    def authenticate_user(self, authorization_code: AuthCode) -> LaunchContext:
        return authorization_code.context


class SmartRefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: each refresh token is used once

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        st = _sandbox(self)
        record = st.tokens.by_refresh(refresh_token)
        if record is not None and st.faults.refresh_refused(record.client_id):
            return None
        return record

    def authenticate_user(self, refresh_token: TokenRecord) -> LaunchContext:
        return refresh_token.context

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        if refresh_token.refresh_token:
            _sandbox(self).tokens.revoke_refresh(refresh_token.refresh_token)


class BackendServicesGrant(ClientCredentialsGrant):
    """SMART Backend Services: ``client_credentials``, authenticated only by a ``private_key_jwt``."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]  # noqa: RUF012 (Authlib's class attribute)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if not self.request.client.get_allowed_scope(self.request.payload.scope or ""):
            raise InvalidScopeError("request system/ scopes this client is registered for, e.g. system/*.rs")


class SmartOpenIDCode(OpenIDCode):
    """RS256 id_token whose ``iss`` is the FHIR base and which carries ``fhirUser`` (SMART §scopes)."""

    def __init__(self, state: SandboxState) -> None:
        super().__init__(require_nonce=False)
        self.state = state

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False

    def resolve_client_private_key(self, client: Any) -> Any:
        return self.state.signing_key

    def get_client_algorithm(self, client: Any) -> str:
        return "RS256"

    def get_encode_header(self, client: Any) -> dict[str, str]:
        return {"alg": "RS256", "kid": str(self.state.signing_key.kid), "typ": "JWT"}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.state.config.fhir_base,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + 300,
        }

    def generate_user_info(self, user: LaunchContext, scope: str) -> UserInfo:
        info = UserInfo(sub=user.practitioner)
        if "fhirUser" in scope.split():
            info["fhirUser"] = f"{self.state.config.fhir_base}/Practitioner/{user.practitioner}"
        if "profile" in scope.split():
            info["name"] = self.state.practitioner_name(user.practitioner)
        return info


class SmartClientAssertion(JWTBearerClientAssertion):
    """``private_key_jwt`` (client-confidential-asymmetric): RS384/ES384, keys from the client's JWKS URL."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, state: SandboxState) -> None:
        super().__init__(validate_jti=True)
        self.state = state

    def get_audiences(self) -> list[str]:
        return [f"{self.state.config.auth_base}/token"]

    def validate_jti(self, claims: Any, jti: str) -> bool:
        return self.state.tokens.use_jti(str(claims["sub"]), jti)

    def resolve_client_public_key(self, client: Any) -> KeySet:
        config: ClientConfig = client.config
        if config.jwks is not None:
            return KeySet.import_key_set(config.jwks)  # type: ignore[arg-type]
        resp = requests.get(str(config.jwks_url), timeout=5)
        resp.raise_for_status()
        return KeySet.import_key_set(resp.json())

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGS)
        except JoseError as exc:
            raise InvalidClientError(description=exc.description) from exc
        self.verify_claims(token.claims)
        if int(token.claims["exp"]) > time.time() + 300 + self.leeway:
            raise InvalidClientError(description="client assertion 'exp' is more than 5 minutes ahead")
        return dict(token.claims)


class SandboxAuthServer(AuthorizationServer):
    """Authlib's Flask AuthorizationServer bound to the sandbox's clients and token store."""

    def __init__(self, app: Flask, state: SandboxState) -> None:
        self.sandbox = state
        super().__init__(app, query_client=self._query_client, save_token=self._save_token)
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda *a, **k: generate_token(42), lambda *a, **k: generate_token(48), self._expires_in
            ),
        )
        self.register_grant(SmartCodeGrant, [SmartCodeChallenge(required=True), SmartOpenIDCode(state)])
        self.register_grant(SmartRefreshGrant)
        self.register_grant(BackendServicesGrant)
        self.register_client_auth_method(SmartClientAssertion.CLIENT_AUTH_METHOD, SmartClientAssertion(state))

    def _query_client(self, client_id: str) -> SandboxClient | None:
        config = self.sandbox.config.client(client_id)
        return SandboxClient(config) if config else None

    def _expires_in(self, client: SandboxClient, grant_type: str) -> int:
        override = self.sandbox.faults.token_lifetime(client.get_client_id())
        if override is not None:
            return override
        if grant_type == "client_credentials":
            return client.config.access_token_lifetime or self.sandbox.config.backend_token_lifetime
        return client.config.access_token_lifetime or self.sandbox.config.access_token_lifetime

    def _save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store the token and add the SMART launch context to the response."""
        grant_type = str(request.payload.grant_type)
        context: LaunchContext = request.user or LaunchContext(practitioner="", ehr_launch=False)
        scopes = set(str(token.get("scope", "")).split())
        if not scopes & {"offline_access", "online_access"}:
            token.pop("refresh_token", None)
        self.sandbox.tokens.save_token(
            TokenRecord(
                access_token=token["access_token"],
                client_id=request.client.get_client_id(),
                scope=token.get("scope", ""),
                context=context,
                expires_in=int(token.get("expires_in") or 0),
                refresh_token=token.get("refresh_token"),
                refresh_expires_at=time.time() + self.sandbox.config.refresh_token_lifetime,
                grant_type=grant_type,
            )
        )
        if grant_type == "client_credentials":
            return  # a backend token carries no launch context
        if context.patient:
            token["patient"] = context.patient
        if context.encounter:
            token["encounter"] = context.encounter
        if context.app_context and str(request.payload.grant_type) == "authorization_code":
            token["appContext"] = context.app_context  # CDS Hooks: a card's smart link, passed on as is
        token["need_patient_banner"] = not context.ehr_launch
        token["smart_style_url"] = f"{self.sandbox.config.base_url}/smart-style.json"


class SandboxTokenValidator(BearerTokenValidator):
    def __init__(self, state: SandboxState) -> None:
        super().__init__()
        self.state = state

    def authenticate_token(self, token_string: str) -> TokenRecord | None:
        return self.state.tokens.by_access(token_string)


def make_protector(state: SandboxState) -> ResourceProtector:
    protector = ResourceProtector()
    protector.register_token_validator(SandboxTokenValidator(state))
    return protector
