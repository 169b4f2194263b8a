"""The stores the command line opens.

``smart-edu outbox`` reads the app's store, resolved exactly as ``create_app`` does, so it sees the app's
failed writes. ``smart-edu sandbox-test`` keeps its own: ``SMART_EDU_DATABASE_URL``, else a SQLite file in a
per-user data folder (it runs without the app). The schema is the app's own (one set of migrations), so either
store can be shared with the app.
"""

from __future__ import annotations

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
    """The store, migrated to the newest schema (the same migrations as the app's, so a store shared with
    the app, or made by an earlier version, is upgraded in place and keeps its outbox)."""
    db = Database(url or default_database_url())
    db.create_all()
    return db
