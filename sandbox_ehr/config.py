"""Sandbox configuration: registered clients, token lifetimes, open mode, storage. Read from a TOML file.

Example (``docs/sandbox.md`` documents every key)::

    base_url = "http://localhost:9000"      # public origin of the EHR; FHIR base is base_url + "/fhir"
    database = ":memory:"
    open_fhir = false
    oracle_chargeitem = false               # true: ChargeItem only through Oracle's $create
    access_token_lifetime = 3600
    refresh_token_lifetime = 2592000
    backend_token_lifetime = 300            # SMART Backend Services tokens (client_credentials)
    seed_month = true                       # also the month of charges (seed/month_charges.json); demo: on
    bulk_export = true                      # false: no $export (clients fall back to paged search)
    export_polls = 2                        # status polls answered "in progress" before the manifest
    export_retry_after = 1                  # seconds, in Retry-After while in progress
    export_file_resources = 500             # resources per NDJSON file (more make <Type>.2.ndjson, …)

    [[clients]]
    client_id = "smart-edu"
    type = "confidential-symmetric"          # public | confidential-symmetric | confidential-asymmetric
    client_secret = "…"                      # or client_secret_env = "NAME"
    redirect_uris = ["http://127.0.0.1:8000/callback"]
    launch_uri = "http://127.0.0.1:8000/launch"

    [[clients]]                             # a SMART Backend Services client (Bulk Data export)
    client_id = "smart-edu-scrub"
    type = "confidential-asymmetric"
    grant_types = ["client_credentials"]
    jwks = { keys = [ … public JWK … ] }    # or jwks_url = "…"
    scope = "system/*.rs"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRANT_TYPES = ("authorization_code", "client_credentials")
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
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code"])

    def __post_init__(self) -> None:
        unknown = set(self.grant_types) - set(GRANT_TYPES)
        if unknown or not self.grant_types:
            raise ValueError(f"client {self.client_id}: grant_types must be some of {GRANT_TYPES}")
        if "client_credentials" in self.grant_types and self.type != "confidential-asymmetric":
            raise ValueError(
                f"client {self.client_id}: client_credentials (SMART Backend Services) needs a "
                "confidential-asymmetric client"
            )
        if self.type not in CLIENT_TYPES:
            raise ValueError(f"client {self.client_id}: type must be one of {CLIENT_TYPES}")
        if self.type == "confidential-symmetric" and not self.client_secret:
            raise ValueError(f"client {self.client_id}: a confidential-symmetric client needs a secret")
        if self.type == "confidential-asymmetric" and not (self.jwks_url or self.jwks):
            raise ValueError(
                f"client {self.client_id}: a confidential-asymmetric client needs jwks_url or jwks"
            )
        if "authorization_code" in self.grant_types and not self.redirect_uris:
            raise ValueError(f"client {self.client_id}: at least one redirect_uri is required")

    @property
    def backend(self) -> bool:
        """A backend service (no user, no launch): only ``system/`` scopes, no refresh token."""
        return self.grant_types == ["client_credentials"]

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
    backend_token_lifetime: int = 300
    seed_month: bool = False  # also seed the month of a clinic's charges (seed/month_charges.json)
    bulk_export: bool = True
    export_polls: int = 2
    export_retry_after: int = 1
    export_file_resources: int = 500
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
