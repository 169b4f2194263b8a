"""``smart-edu db upgrade|current``: the store's Alembic migrations, for the operator and the deploy script.

On PostgreSQL ``serve`` never migrates by itself (several instances would race, and a deploy should change the
schema once, on purpose); this command does it, under an advisory lock, so every instance's start script may
run it. ``current`` lets a script (or a person) see whether an upgrade is due without changing anything.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from smart_app.store import Database, schema
from smart_app.writeback.local_store import NO_STORE_HINT, command_store, missing_store, shown_url

EXIT_OK, EXIT_BEHIND, EXIT_ERROR = 0, 1, 2


def run(args: argparse.Namespace) -> int:
    url, origin = command_store()
    print(f"smart-edu db: store {shown_url(url)} ({origin})", file=sys.stderr)
    missing = missing_store(url) if args.action == "current" else None  # upgrade may create a new store
    if missing:
        print(f"smart-edu db: no store there ({missing}); {NO_STORE_HINT}", file=sys.stderr)
        return EXIT_ERROR
    db = Database(url)
    try:
        return _upgrade(db) if args.action == "upgrade" else _current(db)
    except SQLAlchemyError as exc:
        print(
            f"smart-edu db: cannot use the store: {type(exc).__name__}: {_first_line(exc)}", file=sys.stderr
        )
        return EXIT_ERROR
    finally:
        db.dispose()


def _upgrade(db: Database) -> int:
    found = schema.status(db.engine)
    if not found.known:
        print(f"smart-edu db: {found.describe()}", file=sys.stderr)
        return EXIT_ERROR
    before, after = schema.upgrade(db.engine)
    if before == after:
        print(f"already at {after} (head)")
    else:
        print(f"upgraded {before or 'an empty store'} -> {after} (head)")
    return EXIT_OK


def _current(db: Database) -> int:
    found = schema.status(db.engine)
    print(found.describe())
    return EXIT_OK if found.at_head else EXIT_BEHIND


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
