"""One error type per thing that can go wrong in a SMART launch (the Authlib habit), each with a message."""

from __future__ import annotations


class SmartError(Exception):
    """A launch cannot go on; ``message`` is safe to show the clinician (never holds a token)."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DiscoveryError(SmartError):
    """Neither the well-known document nor the CapabilityStatement gave usable endpoints."""

    status = 502


class TokenError(SmartError):
    """The token endpoint refused the exchange or refresh, or answered something unusable."""

    status = 502

    def __init__(self, message: str, *, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class TokenResponseError(SmartError):
    """The token response is not what this app needs (type, scopes, patient context)."""

    def __init__(self, message: str, *, missing_scopes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing_scopes = missing_scopes


class IdTokenError(SmartError):
    """The id_token failed verification (signature, iss, aud, exp): the launch is refused."""

    status = 403


class ClientConfigError(SmartError):
    """The profile's client credentials are not available (environment variable unset, bad key)."""

    status = 500
