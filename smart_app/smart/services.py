"""The per-app SMART machinery: one HTTP session with the discovery and signing-key caches around it."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from smart_app.smart.discovery import Discovery
from smart_app.smart.id_token import JwksCache


@dataclass
class SmartServices:
    http: requests.Session = field(default_factory=requests.Session)
    discovery_ttl: float = 3600.0
    timeout: tuple[float, float] = (3.05, 15.0)
    discovery: Discovery = field(init=False)
    jwks: JwksCache = field(init=False)

    def __post_init__(self) -> None:
        self.discovery = Discovery(self.http, ttl=self.discovery_ttl, timeout=self.timeout)
        self.jwks = JwksCache(self.http, ttl=self.discovery_ttl, timeout=self.timeout)
