"""The sandbox's RS256 signing key (id_tokens) and its public JWKS."""

from __future__ import annotations

from typing import Any

from joserfc.jwk import KeyParameters, RSAKey


def load_or_generate(pem: str | None) -> RSAKey:
    """Use the configured PEM, else a fresh 2048-bit key (fine for a development server)."""
    params: KeyParameters = {"use": "sig", "alg": "RS256"}
    key = RSAKey.import_key(pem, parameters=params) if pem else RSAKey.generate_key(2048, parameters=params)
    key.ensure_kid()
    return key


def public_jwks(key: RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}
