"""Origins (scheme, host, port) for deciding which servers the app may talk to with a user's secrets.

Why a helper of its own: comparing URLs by string prefix lets ``https://ehr.example.org.evil.com``,
``https://ehr.example.org@evil.com`` or ``https://EHR.example.org:443`` slip past or fail at random. An origin
is computed the same way everywhere (lower-case host, default port dropped) and a URL carrying userinfo
has no origin at all, so it never matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL; None for anything else (userinfo included)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")


def is_allowed(url: str | None, allowed: Iterable[str]) -> bool:
    """True if ``url`` lies on one of the ``allowed`` origins (each normalised the same way)."""
    origin = origin_of(url)
    return origin is not None and origin in {origin_of(a) for a in allowed}
