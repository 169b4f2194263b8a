"""``smart-edu purge [--dry-run]``: delete what the retention settings say has expired (docs/security.md).

Meant for a scheduler (a systemd timer or cron, every few minutes to an hour: a launch never completed is
deleted at the first run after its state expired). Prints one line per kind, ``<count>\\t<kind>``, zero too,
so the scheduler's log shows every run; ``--dry-run`` counts and deletes nothing.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from smart_app.clock import utcnow
from smart_app.settings import load_settings
from smart_app.store.retention import Retention, purge
from smart_app.writeback.local_store import (
    NO_STORE_HINT,
    command_store,
    missing_store,
    open_for_command,
    shown_url,
)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    url, origin = command_store(settings)
    print(f"smart-edu purge: store {shown_url(url)} ({origin})", file=sys.stderr)
    missing = missing_store(url)
    if missing:
        print(f"smart-edu purge: no store there ({missing}); {NO_STORE_HINT}", file=sys.stderr)
        return 2
    retention = Retention(utcnow(), settings.retention_days, settings.audit_retention_days)
    db = open_for_command("smart-edu purge", url)
    if db is None:
        return 2
    try:
        counts = purge(db, retention, dry_run=args.dry_run)
    except SQLAlchemyError as exc:
        print(f"smart-edu purge: cannot use the store: {type(exc).__name__}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    for kind, count in counts.items():
        print(f"{count}\t{kind}")
    days = f"retention {retention.retention_days} days, audit {retention.audit_retention_days} days"
    done = "dry run: nothing was deleted" if args.dry_run else f"{sum(counts.values())} rows"
    print(f"smart-edu purge: {done} ({days})", file=sys.stderr)
    return 0
