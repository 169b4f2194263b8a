"""Configuration: defaults, then the ``SMART_EDU_*`` environment (DESIGN.md §4), then a test's mapping.

Config keys carry the environment variables' names, so docs/configuration.md describes both at once.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from smart_app.resources import launch_config_dir

ENV_KEYS = (
    "SMART_EDU_LAUNCH_CONFIG",
    "SMART_EDU_BASE_URL",
    "SMART_EDU_DATABASE_URL",
    "SMART_EDU_SECRET_KEY",
    "SMART_EDU_FRAME_ANCESTORS",
)


def configure(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Fill ``app.config``; nothing here talks to the network or the database."""
    app.config.from_mapping(
        SMART_EDU_LAUNCH_CONFIG=str(launch_config_dir()),
        SMART_EDU_BASE_URL=None,
        SMART_EDU_DATABASE_URL=None,
        SMART_EDU_SECRET_KEY=None,
        SMART_EDU_FRAME_ANCESTORS=None,
        SMART_EDU_STATE_TTL=600,  # seconds from /launch to /callback
        SMART_EDU_LAUNCH_TTL=12 * 3600,  # seconds a launch handle stays usable
        SMART_EDU_DISCOVERY_TTL=3600,
        SMART_EDU_REFRESH_MARGIN=60,  # refresh this many seconds before the access token expires
        SMART_EDU_HTTP_TIMEOUT=(3.05, 15.0),
        SMART_EDU_COOKIE_SECURE=True,
        SMART_EDU_READ_WORKERS=4,  # parallel single GETs when the server lacks batch
        # Bodies larger than this get 413 before they are read: an anonymous caller (a form post, a CDS call
        # when the endpoints are open) must not make a worker buffer gigabytes. Prefetch Bundles fit easily.
        MAX_CONTENT_LENGTH=10 * 1024 * 1024,
    )
    for key in ENV_KEYS:
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config["SMART_EDU_DATABASE_URL"]:
        app.config["SMART_EDU_DATABASE_URL"] = instance_database_url(app.instance_path)
    # Without a configured key (tests, a first local run) sign with a random one; `serve` refuses to start so.
    app.config["SECRET_KEY"] = app.config["SMART_EDU_SECRET_KEY"] or secrets.token_hex(32)
    app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "None"
    app.config["SESSION_COOKIE_PARTITIONED"] = True


def instance_database_url(instance_path: str) -> str:
    """The default store: ``smart_edu.sqlite`` in the instance folder (``smart-edu outbox`` uses it too)."""
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + str(Path(instance_path) / "smart_edu.sqlite")


def frame_ancestors(app: Flask, profile_origins: list[str]) -> list[str]:
    """Origins allowed to frame the app: SMART_EDU_FRAME_ANCESTORS (space/comma list) or the profiles'."""
    raw = app.config.get("SMART_EDU_FRAME_ANCESTORS")
    if raw:
        return [o for o in str(raw).replace(",", " ").split() if o]
    return profile_origins
