"""smart-edu-billing: the SMART-on-FHIR app (Flask).

``create_app`` is the only entry point (flaskr style): nothing is configured, opened or fetched at
import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask and SQLAlchemy load inside the functions: `smart-edu check` must start fast
    from flask import Flask

    from smart_app.store import Database


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, store, launch profiles, SMART services, security, blueprints.

    A PostgreSQL store whose schema is behind raises ``store.schema.SchemaOutOfDate`` (run ``smart-edu db
    upgrade``): the app never migrates a database other instances share; a SQLite store is upgraded here."""
    from flask import Flask

    from smart_app import config, launch, launches, logs, readiness, security
    from smart_app.point_of_care import views as point_of_care
    from smart_app.point_of_care.curricula import use_deployment_curricula
    from smart_app.profiles import load_profiles
    from smart_app.resources import static_dir, templates_dir
    from smart_app.settings import use_rule_settings
    from smart_app.smart.services import SmartServices
    from smart_app.store import Database

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(templates_dir()),
        static_folder=str(static_dir()),
    )
    settings = config.configure(app, test_config)
    logs.init_app(app)  # first, so every later hook and view logs with the request id
    use_rule_settings(settings)
    use_deployment_curricula(settings.curricula)
    assert settings.database_url is not None  # configure resolves the default
    db = Database(settings.database_url)
    db.prepare()  # SQLite: upgraded in place; PostgreSQL: SchemaOutOfDate unless `smart-edu db upgrade` ran
    app.extensions["smart_edu_db"] = db
    profiles = load_profiles(settings.launch_config_dir)
    app.extensions["smart_edu_profiles"] = profiles
    app.extensions["smart_edu_smart"] = SmartServices(
        discovery_ttl=settings.discovery_ttl,
        timeout=settings.http_timeout,
    )
    security.init_app(app, profiles.origins())
    launches.init_app(app)

    app.register_blueprint(launch.bp)
    app.register_blueprint(readiness.bp)
    app.register_blueprint(point_of_care.bp)
    # --- other blueprints: register them here, one line each (e.g. the CDS Hooks blueprint) ---
    from smart_app.cds_hooks import bp as cds_hooks_bp

    app.register_blueprint(cds_hooks_bp)

    return app


def db_of(app: Flask) -> Database:
    """The app's Database (``app.extensions["smart_edu_db"]``)."""
    from smart_app.store import Database

    db = app.extensions["smart_edu_db"]
    assert isinstance(db, Database)
    return db


def get_db() -> Database:
    """The current app's Database, inside a request or app context."""
    from flask import current_app

    return db_of(current_app)
