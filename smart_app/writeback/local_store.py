"""The stores the command line opens.

``smart-edu outbox`` reads the app's store, resolved exactly as ``create_app`` does, so it sees the app's
failed writes. ``smart-edu sandbox-test`` keeps its own: ``SMART_EDU_DATABASE_URL``, else a SQLite file in a
per-user data folder (it runs without the app). The schema is the app's own (one set of migrations), so either
store can be shared with the app.
"""

from __future__ import annotations

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
