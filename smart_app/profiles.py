"""Launch profiles: one TOML file per EHR issuer (DESIGN.md §4 "Launch profile").

Why a registry of files: only listed issuers may start a launch (an unknown ``iss`` could otherwise point the
app at an attacker's token endpoint), and each EHR differs in client type, PKCE, discovery and write-back.
Secrets never sit in the files: they name environment variables, read only when a token request needs them.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smart_app.origins import origin_of
from smart_app.settings import environment_secret
from smart_app.writeback.config import WritebackConfig, WritebackConfigError

ClientAuth = Literal["none", "client_secret_basic", "private_key_jwt"]
CLIENT_AUTHS = ("none", "client_secret_basic", "private_key_jwt")
PKCE_MODES = ("required", "if-supported")
AUTH_MODES = ("smart", "none")
KEY_ALGS = ("RS384", "ES384")
CHARGEITEM_MODES = ("create", "operation", "none")
DOCREF_MODES = ("create", "none")
TOP_KEYS = frozenset(
    {"name", "iss", "client_id", "client_id_env", "client_auth", "client_secret_env", "private_key_env",
     "key_id", "alg", "scopes", "required_scopes", "pkce", "auth", "discovery", "writeback", "fhir_headers",
     "frame_ancestors", "title", "auth_origins", "timezone", "backend"}
)  # fmt: skip
DISCOVERY_KEYS = frozenset({"authorization_endpoint", "token_endpoint", "jwks_uri", "issuer"})
WRITEBACK_KEYS = frozenset(
    {"chargeitem", "documentreference", "transaction", "conditional_create", "note_content_type",
     "bill_code_system", "chargeitem_status", "charge_summary", "bill_codes", "provenance"}
)  # fmt: skip


BACKEND_KEYS = frozenset(
    {"client_id", "client_id_env", "private_key_env", "key_id", "alg", "scopes", "group_id"}
)
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
SYSTEM_SCOPE = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(read|\*|c?r?u?d?s?)$")


class ProfileError(ValueError):
    """A launch profile is malformed, or a secret it names is not in the environment."""


@dataclass(frozen=True)
class BackendConfig:
    """SMART Backend Services for this EHR (``[backend]``): the app as a system client, no user, for the Bulk
    Data export of ``smart-edu scrub``. A registration of its own at the EHR (Epic and Oracle Health register
    backend apps separately from launch apps), so its own client id and key."""

    client_id: str = ""
    client_id_env: str | None = None
    private_key_env: str = ""
    key_id: str = ""
    alg: Literal["RS384", "ES384"] = "RS384"
    scopes: tuple[str, ...] = ()  # empty: system/<Type>.rs for each exported type
    group_id: str | None = None  # Group/<id>/$export; None: Patient/$export

    def resolved_client_id(self, profile: str) -> str:
        if self.client_id:
            return self.client_id
        return _secret_from_env(profile, "[backend] client_id_env", self.client_id_env)

    def private_key_pem(self, profile: str) -> str:
        return _secret_from_env(profile, "[backend] private_key_env", self.private_key_env)


@dataclass(frozen=True)
class Profile:
    """One EHR or sandbox the app may be launched from."""

    name: str
    iss: str
    client_id: str
    client_auth: ClientAuth
    scopes: tuple[str, ...]
    pkce: Literal["required", "if-supported"] = "required"
    auth: Literal["smart", "none"] = "smart"
    title: str = ""
    client_id_env: str | None = None
    client_secret_env: str | None = None
    private_key_env: str | None = None
    key_id: str | None = None
    alg: Literal["RS384", "ES384"] = "RS384"
    required_scopes: tuple[str, ...] | None = None
    discovery: Mapping[str, str] = field(default_factory=dict)
    writeback: WritebackConfig = field(default_factory=WritebackConfig)
    fhir_headers: Mapping[str, str] = field(default_factory=dict)
    frame_ancestors: tuple[str, ...] = ()
    auth_origins: tuple[str, ...] = ()  # other hosts its authorization server lives on (Oracle)
    # IANA zone of the EHR's clock times, used where the encounter's start carries no offset.
    timezone: str | None = None
    backend: BackendConfig | None = None  # SMART Backend Services for the Bulk Data export (scrub)

    @property
    def trusted_origins(self) -> frozenset[str]:
        """Where discovery may point codes, secrets and tokens: the issuer's origin, the listed
        ``auth_origins`` and the origins of any ``[discovery]`` override. Anything else is refused."""
        urls = (self.iss, *self.auth_origins, *self.discovery.values())
        return frozenset(o for o in (origin_of(u) for u in urls) if o)

    @property
    def needed_scopes(self) -> tuple[str, ...]:
        """Scopes the launch cannot work without: the explicit list, else all requested but refresh hints."""
        if self.required_scopes is not None:
            return self.required_scopes
        return tuple(s for s in self.scopes if s not in ("online_access", "offline_access", "profile"))

    @property
    def origin(self) -> str:
        parts = urlsplit(self.iss)
        return f"{parts.scheme}://{parts.netloc}"

    def resolved_client_id(self) -> str:
        """The client id, from the file or (for per-customer registrations) from the environment."""
        if self.client_id:
            return self.client_id
        return _secret_from_env(self.name, "client_id_env", self.client_id_env)

    def client_secret(self) -> str:
        """The symmetric secret, from the environment variable the profile names."""
        return _secret_from_env(self.name, "client_secret_env", self.client_secret_env)

    def private_key_pem(self) -> str:
        """The PEM private key for private_key_jwt, from the environment variable the profile names."""
        return _secret_from_env(self.name, "private_key_env", self.private_key_env)


class ProfileRegistry:
    """The loaded profiles, looked up by exact issuer URL or by name."""

    def __init__(self, profiles: list[Profile]) -> None:
        self._by_name: dict[str, Profile] = {}
        self._by_iss: dict[str, Profile] = {}
        for p in profiles:
            if p.name in self._by_name:
                raise ProfileError(f"two launch profiles are named {p.name!r}")
            if normalize_iss(p.iss) in self._by_iss:
                raise ProfileError(f"two launch profiles share the issuer {p.iss}")
            self._by_name[p.name] = p
            self._by_iss[normalize_iss(p.iss)] = p

    def by_iss(self, iss: str | None) -> Profile | None:
        return self._by_iss.get(normalize_iss(iss)) if iss else None

    def by_name(self, name: str) -> Profile | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Profile]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def origins(self) -> list[str]:
        """Origins allowed to frame the app by default: each issuer's origin plus any listed per profile."""
        out: list[str] = []
        for p in self:
            for origin in (p.origin, *p.frame_ancestors):
                if origin not in out:
                    out.append(origin)
        return out


def normalize_iss(iss: str | None) -> str:
    """Issuers match exactly, except for a trailing slash."""
    return (iss or "").strip().rstrip("/")


def load_profiles(directory: str | os.PathLike[str]) -> ProfileRegistry:
    """Load and validate every ``*.toml`` profile in ``directory``."""
    path = Path(directory)
    if not path.is_dir():
        raise ProfileError(f"launch profile directory not found: {path}")
    profiles = [load_profile(f) for f in sorted(path.glob("*.toml"))]
    return ProfileRegistry(profiles)


def load_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: not valid TOML: {exc}") from exc
    try:
        return profile_from_mapping(data)
    except ProfileError as exc:
        raise ProfileError(f"{path.name}: {exc}") from exc


def profile_from_mapping(data: Mapping[str, Any]) -> Profile:
    """Build a Profile, refusing unknown keys and illegal combinations with a message naming the key."""
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ProfileError(f"unknown keys: {', '.join(sorted(unknown))}")
    name = _req_str(data, "name")
    iss = _req_str(data, "iss")
    if urlsplit(iss).scheme not in ("http", "https") or not urlsplit(iss).netloc:
        raise ProfileError("iss must be an absolute http(s) URL")
    auth = _choice(data, "auth", AUTH_MODES, "smart")
    client_auth = _choice(data, "client_auth", CLIENT_AUTHS, "none")
    scopes = _str_list(data, "scopes")
    if auth == "smart":
        _check_smart(data, client_auth, scopes)
    required = _str_list(data, "required_scopes") if "required_scopes" in data else None
    return Profile(
        name=name,
        iss=normalize_iss(iss),
        client_id=str(data.get("client_id", "")),
        client_auth=client_auth,  # type: ignore[arg-type]
        scopes=tuple(scopes),
        pkce=_choice(data, "pkce", PKCE_MODES, "required"),  # type: ignore[arg-type]
        auth=auth,  # type: ignore[arg-type]
        title=str(data.get("title", name)),
        client_id_env=data.get("client_id_env"),
        client_secret_env=data.get("client_secret_env"),
        private_key_env=data.get("private_key_env"),
        key_id=data.get("key_id"),
        alg=_choice(data, "alg", KEY_ALGS, "RS384"),  # type: ignore[arg-type]
        required_scopes=tuple(required) if required is not None else None,
        discovery=_discovery(data.get("discovery", {})),
        writeback=_writeback(data.get("writeback", {})),
        fhir_headers={str(k): str(v) for k, v in dict(data.get("fhir_headers", {})).items()},
        frame_ancestors=tuple(_str_list(data, "frame_ancestors")),
        auth_origins=_origins(data),
        timezone=_timezone(data),
        backend=_backend(data["backend"]) if "backend" in data else None,
    )


def _timezone(data: Mapping[str, Any]) -> str | None:
    value = data.get("timezone")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProfileError("timezone must be an IANA time zone name, e.g. America/Chicago")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"timezone {value!r} is not an IANA time zone name (e.g. America/Chicago)"
        raise ProfileError(message) from None
    return value


def _check_smart(data: Mapping[str, Any], client_auth: str, scopes: list[str]) -> None:
    if not data.get("client_id") and not data.get("client_id_env"):
        raise ProfileError("client_id (or client_id_env) is required for a SMART profile")
    if not scopes:
        raise ProfileError("scopes must list the resource and identity scopes")
    if client_auth == "client_secret_basic" and not data.get("client_secret_env"):
        raise ProfileError(
            "client_secret_basic needs client_secret_env (the NAME of an environment variable)"
        )
    if client_auth == "private_key_jwt" and not (data.get("private_key_env") and data.get("key_id")):
        raise ProfileError("private_key_jwt needs private_key_env and key_id")
    if "client_secret" in data or "private_key" in data:
        raise ProfileError("secrets never sit in the file; name an environment variable instead")


def _origins(data: Mapping[str, Any]) -> tuple[str, ...]:
    out = []
    for value in _str_list(data, "auth_origins"):
        origin = origin_of(value)
        if origin is None or origin != value.rstrip("/").lower():
            raise ProfileError(f"auth_origins: {value!r} must be an origin like https://auth.example.org")
        out.append(origin)
    return tuple(out)


def _backend(raw: Any) -> BackendConfig:
    if not isinstance(raw, Mapping):
        raise ProfileError("[backend] must be a table")
    unknown = set(raw) - BACKEND_KEYS
    if unknown:
        raise ProfileError(f"[backend] unknown keys: {', '.join(sorted(unknown))}")
    if not raw.get("client_id") and not raw.get("client_id_env"):
        raise ProfileError("[backend] needs client_id (or client_id_env)")
    for key in ("private_key_env", "key_id"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ProfileError(f"[backend] needs {key} (private_key_jwt is the only backend client auth)")
    if "private_key" in raw:
        raise ProfileError("secrets never sit in the file; name an environment variable instead")
    scopes = _str_list(raw, "scopes")
    bad = [s for s in scopes if not SYSTEM_SCOPE.match(s)]
    if bad:
        raise ProfileError(
            f"[backend] scopes must be system/ scopes (e.g. system/ChargeItem.rs), not {bad[0]!r}"
        )
    group = raw.get("group_id")
    if group is not None and (not isinstance(group, str) or not FHIR_ID.match(group)):
        raise ProfileError("[backend] group_id must be a FHIR id (letters, digits, '-', '.'; at most 64)")
    return BackendConfig(
        client_id=str(raw.get("client_id", "")),
        client_id_env=raw.get("client_id_env"),
        private_key_env=raw["private_key_env"],
        key_id=raw["key_id"],
        alg=_choice(raw, "alg", KEY_ALGS, "RS384", where="[backend] "),  # type: ignore[arg-type]
        scopes=tuple(scopes),
        group_id=group,
    )


def _discovery(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ProfileError("[discovery] must be a table")
    unknown = set(raw) - DISCOVERY_KEYS
    if unknown:
        raise ProfileError(f"[discovery] unknown keys: {', '.join(sorted(unknown))}")
    for key, value in raw.items():
        if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
            raise ProfileError(f"[discovery] {key} must be an absolute URL")
    return dict(raw)


def _writeback(raw: Any) -> WritebackConfig:
    if not isinstance(raw, Mapping):
        raise ProfileError("[writeback] must be a table")
    unknown = set(raw) - WRITEBACK_KEYS
    if unknown:
        raise ProfileError(f"[writeback] unknown keys: {', '.join(sorted(unknown))}")
    chargeitem = _choice(raw, "chargeitem", CHARGEITEM_MODES, "create", where="[writeback] ")
    if chargeitem == "operation" and not (raw.get("bill_code_system") or raw.get("bill_codes")):
        raise ProfileError("[writeback] chargeitem = 'operation' needs bill_code_system or bill_codes")
    for key in ("transaction", "conditional_create", "charge_summary", "provenance"):
        if not isinstance(raw.get(key, False), bool):
            raise ProfileError(f"[writeback] {key} must be true or false")
    _choice(raw, "documentreference", DOCREF_MODES, "create", where="[writeback] ")
    for key in ("note_content_type", "bill_code_system", "chargeitem_status"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            raise ProfileError(f"[writeback] {key} must be a non-empty string")
    bill_codes = _bill_codes(raw.get("bill_codes", {}))
    try:
        return WritebackConfig.from_mapping(dict(raw) | {"bill_codes": bill_codes})
    except WritebackConfigError as exc:
        raise ProfileError(f"[writeback] {exc}") from None


def _bill_codes(raw: Any) -> dict[str, dict[str, str]]:
    if not isinstance(raw, Mapping):
        raise ProfileError("[writeback.bill_codes] must be a table of CPT code -> {system, code}")
    out: dict[str, dict[str, str]] = {}
    for cpt, value in raw.items():
        if not isinstance(value, Mapping) or not value.get("system") or not value.get("code"):
            raise ProfileError(f"[writeback.bill_codes] {cpt} needs a system and a code")
        out[str(cpt)] = {str(k): str(v) for k, v in value.items()}
    return out


def _req_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{key} is required (a non-empty string)")
    return value.strip()


def _choice(
    data: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str, where: str = ""
) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise ProfileError(f"{where}{key} must be one of {' | '.join(allowed)}, not {value!r}")
    return str(value)


def _str_list(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProfileError(f"{key} must be a list of strings")
    return list(value)


def _secret_from_env(profile: str, key: str, var: str | None) -> str:
    if not var:
        raise ProfileError(f"profile {profile!r} names no {key}")
    value = environment_secret(var)
    if not value:
        raise ProfileError(f"profile {profile!r}: environment variable {var} is not set")
    return value
