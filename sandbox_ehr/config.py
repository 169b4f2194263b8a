"""Sandbox configuration: registered clients, token lifetimes, open mode, storage. Read from a TOML file.

Example (``docs/sandbox.md`` documents every key)::

    base_url = "http://localhost:9000"      # public origin of the EHR; FHIR base is base_url + "/fhir"
    database = ":memory:"
    open_fhir = false
    oracle_chargeitem = false               # true: ChargeItem only through Oracle's $create
    access_token_lifetime = 3600
    refresh_token_lifetime = 2592000

    [[clients]]
    client_id = "smart-edu"
    type = "confidential-symmetric"          # public | confidential-symmetric | confidential-asymmetric
    client_secret = "…"                      # or client_secret_env = "NAME"
    redirect_uris = ["http://127.0.0.1:8000/callback"]
    launch_uri = "http://127.0.0.1:8000/launch"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLIENT_TYPES = ("public", "confidential-symmetric", "confidential-asymmetric")
AUTH_METHODS = {
    "public": "none",
    "confidential-symmetric": "client_secret_basic",
    "confidential-asymmetric": "private_key_jwt",
}


@dataclass
class ClientConfig:
    """One registered SMART app."""

    client_id: str
    type: str = "public"
    redirect_uris: list[str] = field(default_factory=list)
    launch_uri: str | None = None
    name: str = ""
    client_secret: str | None = None
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None
    scope: str | None = None  # allowed scopes; None = any scope this server knows
    access_token_lifetime: int | None = None
    cds_services_url: str | None = None  # the app's CDS Hooks discovery URL (the launcher's CDS panel)

    def __post_init__(self) -> None:
        if self.type not in CLIENT_TYPES:
            raise ValueError(f"client {self.client_id}: type must be one of {CLIENT_TYPES}")
        if self.type == "confidential-symmetric" and not self.client_secret:
            raise ValueError(f"client {self.client_id}: a confidential-symmetric client needs a secret")
        if self.type == "confidential-asymmetric" and not (self.jwks_url or self.jwks):
            raise ValueError(
                f"client {self.client_id}: a confidential-asymmetric client needs jwks_url or jwks"
            )
        if not self.redirect_uris:
            raise ValueError(f"client {self.client_id}: at least one redirect_uri is required")

    @property
    def auth_method(self) -> str:
        return AUTH_METHODS[self.type]


@dataclass
class SandboxConfig:
    """Everything the sandbox app needs; ``base_url`` is the EHR's public origin (no trailing slash)."""

    base_url: str
    database: str = ":memory:"
    open_fhir: bool = False
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 30 * 24 * 3600
    code_lifetime: int = 60
    launch_lifetime: int = 300
    seed: bool = True
    faults_enabled: bool = True
    oracle_chargeitem: bool = False  # ChargeItem as on Oracle Health: $create only (oracle_charges.py)
    signing_key_pem: str | None = None
    secret_key: str | None = None
    clients: list[ClientConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    @property
    def fhir_base(self) -> str:
        return f"{self.base_url}/fhir"

    @property
    def auth_base(self) -> str:
        return f"{self.base_url}/auth"

    def client(self, client_id: str) -> ClientConfig | None:
        return next((c for c in self.clients if c.client_id == client_id), None)


def load_config(path: str | Path, **overrides: Any) -> SandboxConfig:
    """Read a TOML file; relative ``database``/key paths resolve against the file's folder."""
    path = Path(path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    clients = [_client(c) for c in data.pop("clients", [])]
    key_file = data.pop("signing_key_file", None)
    if key_file:
        data["signing_key_pem"] = (path.parent / key_file).read_text(encoding="utf-8")
    db = data.get("database", ":memory:")
    if db != ":memory:" and not Path(db).is_absolute():
        data["database"] = str(path.parent / db)
    data.update(overrides)
    return SandboxConfig(clients=clients, **data)


def _client(raw: dict[str, Any]) -> ClientConfig:
    raw = dict(raw)
    env = raw.pop("client_secret_env", None)
    if env:
        raw["client_secret"] = os.environ.get(env)
    return ClientConfig(**raw)
