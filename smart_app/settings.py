"""Every setting of the app, in one typed object built from the environment once (DESIGN.md §4).

Why one place: settings read where they are used drift apart (a timeout that never reaches the token calls, a
default that differs between the app and the command line), and nobody can list them. This module is the only
one that reads ``os.environ`` (a test scans the source for that); everything else takes a ``Settings``.
A test (or an embedding program) passes the same names in a mapping, e.g. ``create_app({...})``; a value there
wins over the environment and may be typed already (``600``) or a string as the environment gives it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from smart_app.resources import launch_config_dir


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


def _text(raw: Any) -> str | None:
    value = str(raw).strip() if raw is not None else ""
    return value or None


def _path(raw: Any) -> Path | None:
    value = _text(raw)
    return Path(value) if value else None


def _paths(raw: Any) -> tuple[Path, ...]:
    if isinstance(raw, list | tuple):
        return tuple(Path(p) for p in raw)
    return tuple(Path(p.strip()) for p in str(raw or "").split(os.pathsep) if p.strip())


def _words(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, list | tuple):
        return tuple(str(w) for w in raw if w)
    return tuple(w for w in str(raw or "").replace(",", " ").split() if w)


def _keys(raw: Any) -> tuple[str, ...]:
    """Earlier secret keys, comma-separated (a key is a long random string: no commas, no spaces)."""
    parts = raw if isinstance(raw, list | tuple) else str(raw or "").split(",")
    return tuple(k for k in (str(p).strip() for p in parts) if k)


def _int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("a whole number is expected")
    value = int(str(raw).strip()) if not isinstance(raw, int) else raw
    if value < 0:
        raise ValueError("a number of zero or more is expected")
    return value


def _positive_int(raw: Any) -> int:
    value = _int(raw)
    if value < 1:
        raise ValueError("a number of one or more is expected")
    return value


def _float(raw: Any) -> float:
    value = float(raw) if isinstance(raw, int | float) else float(str(raw).strip())
    if not value >= 0:
        raise ValueError("a number of zero or more is expected")
    return value


def _timeout(raw: Any) -> tuple[float, float]:
    """``(connect, read)`` seconds; the environment gives ``"3.05,15"`` or one number for both."""
    parts = list(raw) if isinstance(raw, list | tuple) else str(raw).replace(",", " ").split()
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise ValueError("one number, or two (connect, read) separated by a comma, is expected")
    connect, read = (_float(p) for p in parts)
    if connect <= 0 or read <= 0:
        raise ValueError("timeouts must be above zero")
    return (connect, read)


def _lease(raw: Any) -> float:
    value = _float(raw)
    if value <= 0:
        raise ValueError("a number of seconds above zero is expected")
    return value


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false is expected")


def _log_format(raw: Any) -> str:
    value = str(raw).strip().lower()
    if value not in ("json", "text"):
        raise ValueError("json or text is expected")
    return value


@dataclass(frozen=True)
class _Var:
    name: str  # the environment variable (and the key a test's mapping uses)
    parse: Callable[[Any], Any]
    aliases: tuple[str, ...] = ()  # older mapping keys still accepted from a test's mapping


# field name -> how to read it. Defaults live on the dataclass fields below.
_VARS: dict[str, _Var] = {
    "launch_config": _Var("SMART_EDU_LAUNCH_CONFIG", _path),
    "base_url": _Var("SMART_EDU_BASE_URL", _text),
    "database_url": _Var("SMART_EDU_DATABASE_URL", _text),
    "secret_key": _Var("SMART_EDU_SECRET_KEY", _text),
    "secret_key_previous": _Var("SMART_EDU_SECRET_KEY_PREVIOUS", _keys),
    "frame_ancestors": _Var("SMART_EDU_FRAME_ANCESTORS", _words),
    "state_ttl": _Var("SMART_EDU_STATE_TTL", _positive_int),
    "launch_ttl": _Var("SMART_EDU_LAUNCH_TTL", _positive_int),
    "discovery_ttl": _Var("SMART_EDU_DISCOVERY_TTL", _float),
    "refresh_margin": _Var("SMART_EDU_REFRESH_MARGIN", _float),
    "http_timeout": _Var("SMART_EDU_HTTP_TIMEOUT", _timeout),
    "fhir_timeout": _Var("SMART_EDU_FHIR_TIMEOUT", _timeout),
    "cookie_secure": _Var("SMART_EDU_COOKIE_SECURE", _bool),
    "read_workers": _Var("SMART_EDU_READ_WORKERS", _positive_int),
    "write_lease": _Var("SMART_EDU_WRITE_LEASE", _lease),
    "max_content_length": _Var(
        "SMART_EDU_MAX_CONTENT_LENGTH", _positive_int, aliases=("MAX_CONTENT_LENGTH",)
    ),
    "cds_clients": _Var("SMART_EDU_CDS_CLIENTS", _path),
    "cds_cors_origins": _Var("SMART_EDU_CDS_CORS_ORIGINS", _text),
    "curricula": _Var("SMART_EDU_CURRICULA", _path),
    "rules_dirs": _Var("SMART_EDU_RULES_DIR", _paths),
    "edit_tables_dir": _Var("SMART_EDU_EDIT_TABLES_DIR", _path),
    "bearer_token": _Var("SMART_EDU_BEARER_TOKEN", _text),
    "bearer_token_issuer": _Var("SMART_EDU_BEARER_TOKEN_ISSUER", _text),
    "retention_days": _Var("SMART_EDU_RETENTION_DAYS", _positive_int),
    "audit_retention_days": _Var("SMART_EDU_AUDIT_RETENTION_DAYS", _positive_int),
    "data_home": _Var("XDG_DATA_HOME", _path),
    "log_format": _Var("SMART_EDU_LOG_FORMAT", _log_format),
}


@dataclass(frozen=True)
class Settings:
    """The app's settings (docs/configuration.md lists each with its variable)."""

    launch_config: Path | None = None  # None: the packaged launch_config/ (see ``launch_config_dir``)
    base_url: str | None = None  # None: taken from the request
    database_url: str | None = None  # None: the app's instance-folder SQLite file
    secret_key: str | None = None  # None: a random key per process; `serve` refuses to start so
    # Keys being rotated out: still accepted to unseal launch tokens and verify CSRF tokens, never used to
    # seal or sign (docs/security.md, "Rotating the secret key"). Dropped once their launches have ended.
    secret_key_previous: tuple[str, ...] = ()
    frame_ancestors: tuple[str, ...] = ()  # (): the profiles' origins
    state_ttl: int = 600  # seconds from /launch to /callback
    launch_ttl: int = 12 * 3600  # seconds a launch handle stays usable
    discovery_ttl: float = 3600.0
    refresh_margin: float = 60.0  # refresh this many seconds before the access token expires
    http_timeout: tuple[float, float] = (3.05, 15.0)  # (connect, read): discovery, token, refresh, JWKS
    fhir_timeout: tuple[float, float] = (3.05, 30.0)  # (connect, read): the launch's FHIR reads and writes
    cookie_secure: bool = True
    read_workers: int = 4  # parallel single GETs when the server lacks batch
    # Seconds a write to the EHR holds its job without a renewal: the writer renews it (a heartbeat) while it
    # works, so this is how long a frozen or dead writer blocks a retry before another may take over.
    write_lease: float = 120.0
    # Bodies larger than this get 413 before they are read: an anonymous caller (a form post, a CDS call
    # when the endpoints are open) must not make a worker buffer gigabytes. Prefetch Bundles fit easily.
    max_content_length: int = 10 * 1024 * 1024
    cds_clients: Path | None = None  # None: CDS client JWTs are not checked
    cds_cors_origins: str = "*"
    curricula: Path | None = None  # None: the packaged list
    rules_dirs: tuple[Path, ...] = ()
    edit_tables_dir: Path | None = None
    bearer_token: str | None = None  # sandbox-test / outbox against a protected server
    bearer_token_issuer: str | None = None
    retention_days: int = 30  # `purge`: ended launches, drafts, sent outbox entries, finished write jobs
    audit_retention_days: int = 2557  # `purge`: the audit log and CDS card records (7 years)
    data_home: Path | None = None  # XDG_DATA_HOME: where sandbox-test keeps its own store
    log_format: str | None = None  # json | text; None: json under `serve`, text elsewhere

    @property
    def launch_config_dir(self) -> Path:
        """The directory of launch profiles."""
        return self.launch_config or launch_config_dir()

    @property
    def user_data_dir(self) -> Path:
        """``$XDG_DATA_HOME`` or ``~/.local/share``."""
        return self.data_home or Path.home() / ".local" / "share"


def variable_names() -> tuple[str, ...]:
    """Every environment variable the settings read (docs/configuration.md lists each)."""
    return tuple(v.name for v in _VARS.values())


def load_settings(
    overrides: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """The settings from ``environ`` (default: the process environment), with ``overrides`` winning.

    An empty environment variable counts as unset (``FOO= smart-edu serve`` is a common way to clear one);
    a value in ``overrides`` counts even when empty or ``None``, so a test can clear a setting.
    """
    env = os.environ if environ is None else environ
    given = dict(overrides or {})
    values: dict[str, Any] = {}
    defaults = {f.name: f.default for f in fields(Settings)}
    for name, var in _VARS.items():
        key = next((k for k in (var.name, *var.aliases) if k in given), None)
        if key is not None:
            raw = given[key]
            if raw is None or raw == "":
                values[name] = defaults[name]
                continue
        elif env.get(var.name):
            key, raw = var.name, env[var.name]
        else:
            continue
        try:
            values[name] = var.parse(raw)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{key}={raw!r}: {exc}") from None
        if values[name] is None or values[name] == ():
            values[name] = defaults[name]
    return Settings(**values)


def use_rule_settings(settings: Settings) -> None:
    """Hand the deployment's rule data directories to ``billing_rules`` (which reads no environment)."""
    from billing_rules import use_deployment_rules

    use_deployment_rules(settings.rules_dirs, settings.edit_tables_dir)


def environment_secret(name: str) -> str | None:
    """A secret a launch profile names (``client_secret_env``, ``private_key_env``, ``client_id_env``).

    The names come from the profile files, not from this module, so they are looked up by name when a token
    call needs them; this stays the one place that reads the environment.
    """
    return os.environ.get(name) or None


def provide_secret(name: str, value: str) -> None:
    """Put a secret where ``environment_secret`` finds it: ``smart-edu demo`` hands its generated client
    secret to its own launch profile this way (the profile names a variable, as a real deployment's does)."""
    os.environ[name] = value
