"""``smart-edu serve``: the app under gunicorn, the production WSGI server (DESIGN.md §5).

Refuses to start without ``SMART_EDU_SECRET_KEY``: with a random key each worker would sign CSRF tokens
differently and every restart would invalidate open forms. The app is built once in the master (``preload``),
so a bad launch profile stops the start with its message instead of crashing every worker. No database
connection crosses the fork: the master closes its pool before forking, and each worker drops whatever it
inherited (``post_fork``) and opens its own (``smart_app.store.database``).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from typing import TYPE_CHECKING, Any

from flask import Flask
from gunicorn import config as gunicorn_config
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from smart_app import db_of

if TYPE_CHECKING:
    from smart_app.settings import Settings

HANDLE_IN_PATH = re.compile(r"^/s/[^/]+")


class RedactingLogger(glogging.Logger):
    """gunicorn's logs in the app's format (``SMART_EDU_LOG_FORMAT``) through the same redaction filter, so
    its error log never names a launch handle either. Access lines, if an operator turns them on with
    gunicorn's own settings, show ``/s/…/page``; by default the app's ``request`` event is the access log (one
    line per request, with the route template, status, duration and request id)."""

    log_format = "json"

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from smart_app import logs

        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                logs.prepare_handler(handler, self.log_format)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        atoms["U"] = HANDLE_IN_PATH.sub("/s/…", str(atoms.get("U", "")))
        return atoms


def logger_class(log_format: str) -> type[RedactingLogger]:
    """The gunicorn logger class for this format (gunicorn takes a class, built per arbiter and worker)."""
    return type("RedactingLogger_" + log_format, (RedactingLogger,), {"log_format": log_format})


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("post_fork", self._post_fork)

    def _post_fork(self, _server: Any, _worker: Any) -> None:
        db_of(self.application).after_fork()

    def load(self) -> Flask:
        return self.application


def gunicorn_options(args: argparse.Namespace, log_format: str = "json") -> dict[str, Any]:
    return {
        "bind": f"{args.host}:{args.port}",
        "workers": max(1, int(args.workers)),
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "preload_app": True,
        # The app logs each request itself (the `request` event); gunicorn's access line would repeat it.
        # Turned back on, it never shows query strings: /callback carries the authorization code.
        "accesslog": None,
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "errorlog": "-",
        "logger_class": logger_class(log_format),
    } | _no_control_socket()


def _no_control_socket() -> dict[str, Any]:
    """gunicorn 27's control socket (~/.gunicorn/gunicorn.ctl) is one path per user: a second
    `smart-edu serve` would silently replace the first's. The app does not use it; gunicorn < 27 lacks it."""
    known = {setting.name for setting in gunicorn_config.KNOWN_SETTINGS}
    return {"control_socket_disable": True} if "control_socket_disable" in known else {}


def deployment_warnings(settings: Settings) -> list[str]:
    """Settings a production deployment needs for its security, said at start rather than found later."""
    out = []
    if not settings.base_url:
        out.append("SMART_EDU_BASE_URL is not set: the redirect URI and the CDS JWT audience then follow the "
                   "request's Host header; set the app's public https URL.")  # fmt: skip
    if not settings.cds_clients:
        out.append("SMART_EDU_CDS_CLIENTS is not set: the CDS Hooks endpoints accept calls without a JWT "
                   "(anyone can post feedback into the audit log); name the CDS clients file.")  # fmt: skip
    return out


def store_refusal(settings: Settings) -> str | None:
    """Why ``serve`` must not start on this store, or None. A server database (PostgreSQL) is never migrated
    here: several instances would race and a deploy changes the schema once, with ``smart-edu db upgrade``.
    A SQLite store (one machine) still upgrades itself in ``create_app``."""
    from sqlalchemy.exc import SQLAlchemyError

    from smart_app.store import Database, schema

    if not settings.database_url:
        return None  # the instance folder's SQLite file
    db = Database(settings.database_url)
    try:
        if not schema.is_server_database(db.engine):
            return None
        schema.require_current(db.engine)
    except schema.SchemaOutOfDate as exc:
        return f"{exc}; serve does not migrate a shared database itself"
    except SQLAlchemyError as exc:
        return f"cannot reach the store: {type(exc).__name__}"
    finally:
        db.dispose()
    return None


def run(args: argparse.Namespace) -> int:
    from smart_app.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"smart-edu serve: {exc}", file=sys.stderr)
        return 2
    if not settings.secret_key:
        print(
            "smart-edu serve: SMART_EDU_SECRET_KEY is not set. Set it to a long random value "
            '(e.g. python -c "import secrets; print(secrets.token_hex(32))") and start again.',
            file=sys.stderr,
        )
        return 2
    from smart_app import create_app, logs
    from smart_app.profiles import ProfileError

    log_format = settings.log_format or "json"
    logs.configure(log_format)

    refusal = store_refusal(settings)
    if refusal:
        print(f"smart-edu serve: {refusal}", file=sys.stderr)
        return 2
    try:
        app = create_app()
    except ProfileError as exc:
        print(f"smart-edu serve: launch profiles: {exc}", file=sys.stderr)
        return 2
    for warning in deployment_warnings(settings):
        logs.event(logging.getLogger(__name__), "serve.warning", level=logging.WARNING, message=warning)
    db_of(app).dispose()  # the master serves nothing: no connection of its own is left to inherit
    _Gunicorn(app, gunicorn_options(args, log_format)).run()
    return 0
