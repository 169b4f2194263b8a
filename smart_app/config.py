"""The Flask side of the settings: ``smart_app.settings`` builds them, this puts them on the app.

Config keys carry the environment variables' names, so docs/configuration.md describes both at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask.sansio.app import App

from smart_app.settings import Settings, load_settings

EXTENSION = "smart_edu_settings"


def configure(app: Flask, test_config: Mapping[str, Any] | None) -> Settings:
    """Build the settings once (environment, then the test's mapping) and fill ``app.config``; nothing here
    talks to the network or the database."""
    settings = load_settings(test_config)
    if settings.database_url is None:
        settings = replace(settings, database_url=instance_database_url(app.instance_path))
    app.extensions[EXTENSION] = settings
    if test_config is not None:  # Flask's own keys (TESTING, …) and anything an embedding program adds
        app.config.from_mapping(test_config)
    app.config["SMART_EDU_DATABASE_URL"] = settings.database_url
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    # Without a configured key (tests, a first local run) sign with a random one; `serve` refuses to start so.
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    # Keys being rotated out (SMART_EDU_SECRET_KEY_PREVIOUS): verify and unseal only. Flask's own name, so its
    # session signing honours them too.
    app.config["SECRET_KEY_FALLBACKS"] = list(settings.secret_key_previous)
    app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "None"
    app.config["SESSION_COOKIE_PARTITIONED"] = True
    return settings


def settings_of(app: App) -> Settings:
    """The app's settings."""
    settings = app.extensions[EXTENSION]
    assert isinstance(settings, Settings)
    return settings


def current_settings() -> Settings:
    """The current app's settings, inside a request or app context."""
    return settings_of(current_app)


def secret_key_fallbacks(app: App) -> tuple[str, ...]:
    """Earlier secret keys, accepted for reading (unsealing, verifying) only; newest first."""
    return tuple(str(k) for k in app.config.get("SECRET_KEY_FALLBACKS") or () if k)


def instance_database_url(instance_path: str) -> str:
    """The default store: ``smart_edu.sqlite`` in the instance folder (``smart-edu outbox`` uses it too)."""
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + str(Path(instance_path) / "smart_edu.sqlite")


def frame_ancestors(app: Flask, profile_origins: list[str]) -> list[str]:
    """Origins allowed to frame the app: SMART_EDU_FRAME_ANCESTORS (space/comma list) or the profiles'."""
    return list(settings_of(app).frame_ancestors) or profile_origins
