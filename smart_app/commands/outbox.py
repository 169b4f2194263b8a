"""``smart-edu outbox list|retry [ids]``: the writes that failed, and sending them again.

It reads the app's store (``SMART_EDU_DATABASE_URL``, else the app's instance-folder SQLite file, resolved as
``create_app`` does) and names it on stderr, so nobody mistakes an empty outbox for another store's.

A retry needs the EHR's permission. Open servers need no token. For a protected server the command line has no
launch, so it sends ``SMART_EDU_BEARER_TOKEN`` only to the issuer named in ``SMART_EDU_BEARER_TOKEN_ISSUER``
(a token must never reach another server); otherwise the entry stays queued and the clinician retries it from
the app, whose launch holds a token. Exit 0 all sent, 2 unknown id or a store it cannot use (a PostgreSQL
schema that is behind: run ``smart-edu db upgrade``; this command never migrates it), 3 some still failing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import timedelta

from smart_app.fhir_client import FhirClient
from smart_app.settings import load_settings
from smart_app.store import Database
from smart_app.writeback import WriteInProgressError, list_outbox, retry_outbox_entry
from smart_app.writeback.local_store import (
    NO_STORE_HINT,
    command_store,
    missing_store,
    open_for_command,
    shown_url,
)
from smart_app.writeback.outbox import OutboxView

APP_RETRY_HINT = "the server needs a token: the clinician must retry from the app"
QUESTION_HINT = "the clinician answers this question on the app's result page; a retry here asks again"


def run(args: argparse.Namespace) -> int:
    url, origin = command_store()
    print(f"smart-edu outbox: store {shown_url(url)} ({origin})", file=sys.stderr)
    missing = missing_store(url)
    if missing:
        print(f"smart-edu outbox: no store there ({missing}); {NO_STORE_HINT}", file=sys.stderr)
        return 2
    db = open_for_command("smart-edu outbox", url)
    if db is None:
        return 2
    try:
        pending = list_outbox(db)
        if args.action == "list":
            for entry in pending:
                print(json.dumps(asdict(entry), sort_keys=True))
            if not pending:  # stdout stays JSON lines only; a person still sees an answer
                print("smart-edu outbox: no pending writes", file=sys.stderr)
            return 0
        chosen = _chosen(pending, args.ids)
        if chosen is None:
            return 2
        failures = 0
        for entry in chosen:
            failures += 0 if _retry(db, entry) else 1
        return 3 if failures else 0
    finally:
        db.dispose()


def _chosen(pending: list[OutboxView], ids: list[str]) -> list[OutboxView] | None:
    if not ids:
        return pending
    by_id = {e.id: e for e in pending}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        print(f"smart-edu outbox: no pending entry {', '.join(unknown)}", file=sys.stderr)
        return None
    return [by_id[i] for i in ids]


def _retry(db: Database, entry: OutboxView) -> bool:
    try:
        lease = timedelta(seconds=load_settings().write_lease)
        result = retry_outbox_entry(db, client_for(entry.issuer), entry.id, lease=lease)
    except WriteInProgressError:
        print(f"{entry.id}: another process is writing it now", file=sys.stderr)
        return False
    if result.status != "queued-in-outbox":
        refs = ", ".join(w.ref or w.key for w in result.resources)
        print(f"{entry.id}: {result.status}: {refs}")
        return True
    hint = f" ({APP_RETRY_HINT})" if result.http_status in (401, 403) else ""
    if result.question:
        hint = f" ({QUESTION_HINT})"
    print(f"{entry.id}: still queued: {result.server_message}{hint}", file=sys.stderr)
    return False


def client_for(issuer: str) -> FhirClient:
    """A client for the entry's server; the env token only for the issuer it was issued for."""
    settings = load_settings()
    token = settings.bearer_token
    allowed = (settings.bearer_token_issuer or "").rstrip("/")
    if token and allowed and allowed == issuer.rstrip("/"):
        return FhirClient(issuer, token_provider=lambda: token)
    return FhirClient(issuer)
