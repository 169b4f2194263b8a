"""The stores the command line opens.

``smart-edu outbox`` reads the app's store, resolved exactly as ``create_app`` does, so it sees the app's
failed writes. ``smart-edu sandbox-test`` keeps its own: ``SMART_EDU_DATABASE_URL``, else a SQLite file in a
per-user data folder (it runs without the app). The schema is the app's own (one set of migrations), so either
store can be shared with the app. A command migrates a SQLite store itself but never a PostgreSQL one: like
``serve``, it refuses a schema that is behind and names ``smart-edu db upgrade``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from smart_app.settings import Settings, load_settings
from smart_app.store import Database


def app_database_url(settings: Settings | None = None) -> str:
    """The app's store: ``SMART_EDU_DATABASE_URL``, else ``smart_edu.sqlite`` in the instance folder Flask
    gives the ``smart_app`` package (``instance/`` in a checkout), as ``create_app`` computes it."""
    url = (settings or load_settings()).database_url
    if url:
        return url
    from flask import Flask

    from smart_app.config import instance_database_url

    return instance_database_url(Flask("smart_app", instance_relative_config=True).instance_path)


def command_store(settings: Settings | None = None) -> tuple[str, str]:
    """The store ``audit`` and ``outbox`` read, and where that choice came from (said on stderr):
    ``SMART_EDU_DATABASE_URL``, else a running ``smart-edu demo``'s store, else the app's instance store."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url, "SMART_EDU_DATABASE_URL"
    from smart_app.demo_state import running_demo_store

    demo = running_demo_store()
    if demo:
        return demo, "the running smart-edu demo's"
    return app_database_url(settings), "the app's instance folder"


NO_STORE_HINT = (
    "nothing was created; set SMART_EDU_DATABASE_URL to the app's store (smart-edu demo prints its own)"
)


def missing_store(url: str) -> str | None:
    """Why ``url`` names no store yet (a SQLite file that does not exist), else None. The commands that read
    the app's store say so instead of creating an empty one that would answer "nothing" for ever."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else f"{path} does not exist"


def shown_url(url: str) -> str:
    """The URL as a person may see it: a password in it is masked."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def default_database_url(settings: Settings | None = None) -> str:
    """``sandbox-test``'s store: ``SMART_EDU_DATABASE_URL``, else
    ``$XDG_DATA_HOME/smart-edu-billing/smart-edu.db``."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    folder = settings.user_data_dir / "smart-edu-billing"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'smart-edu.db'}"


def open_database(url: str | None = None) -> Database:
    """The store, ready for a command, opened as the app opens it (``Database.prepare``): a SQLite store is
    migrated to the newest schema (the app's migrations, so one made by an earlier version is upgraded in
    place and keeps its outbox); a server database (PostgreSQL) is never migrated here and raises
    ``SchemaOutOfDate`` when it is behind: only ``smart-edu db upgrade`` changes a shared schema, once per
    deploy, under its advisory lock."""
    db = Database(url or default_database_url())
    try:
        db.prepare()
    except BaseException:
        db.dispose()
        raise
    return db


def open_for_command(prog: str, url: str) -> Database | None:
    """``open_database`` for a command line: None, with one line on stderr naming what to do, when the store
    cannot be used (a PostgreSQL schema that is behind, an unreachable server); the caller exits 2."""
    from sqlalchemy.exc import SQLAlchemyError

    from smart_app.store import schema

    try:
        return open_database(url)
    except schema.SchemaOutOfDate as exc:
        print(f"{prog}: {exc}; {prog} does not migrate a shared database itself", file=sys.stderr)
    except SQLAlchemyError as exc:
        print(f"{prog}: cannot use the store: {type(exc).__name__}", file=sys.stderr)
    return None
