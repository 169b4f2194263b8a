"""Schema upgrades of the app's store with Alembic, run at every start (``create_app``, the commands).

Why Alembic: a deployment upgrades in place and clinicians must never lose drafts, so a new column (e.g.
``poc_drafts.note_basis``) has to reach a database an earlier version created; Alembic is SQLAlchemy's own
migration tool and works the same on SQLite (batch mode) and PostgreSQL. The baseline ``0001`` also adopts a
database made before Alembic (by ``create_all``): it creates what is missing and adds missing columns.
Two workers (processes) starting together may race on the first upgrade; the loser retries and finds it done.
"""

from __future__ import annotations

import threading
import time
from functools import cache
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).with_name("migrations")
ATTEMPTS = 3
_LOCK = threading.Lock()  # Alembic's ``op``/``context`` are module-level proxies: one migration per process


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@cache
def head() -> str:
    """The newest revision this version of the app knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the store to ``head``; a no-op (one query) when it is there already."""
    with _LOCK:
        _upgrade(engine)


def _upgrade(engine: Engine) -> None:
    for attempt in range(ATTEMPTS):
        if current(engine) == head():
            return
        try:
            with engine.begin() as conn:
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return
        except DBAPIError:  # another process upgraded at the same moment ("already exists", locked)
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def differences(engine: Engine) -> list[object]:
    """What the models declare that the database lacks (or has differently): [] when they agree."""
    from smart_app.store import Base

    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
