"""The app's store: every table on one ``Base`` (one MetaData), the database handle and the schema upgrades.

Why one package: tables declared next to the code that uses them grew into six modules (one of them a web
module), so nobody could see the whole schema, and a migration could miss a table. New tables go here, each
with an Alembic revision in ``store/migrations/versions``. The modules:

- ``database``: ``Base`` and ``Database`` (an engine and units of work);
- ``launches``: launch records with their sealed tokens (and the sealing itself);
- ``context``: the launch's cached FHIR context;
- ``drafts``: the clinician's drafts;
- ``writeback``: the write job claim, step ledger, outbox and audit log;
- ``cds``: CDS cards issued, feedback received, client JWT ids already used;
- ``schema``: Alembic upgrades (``smart-edu db upgrade``).
"""

from __future__ import annotations

from smart_app.store.cds import CdsCardIssued, CdsFeedback, CdsJwtSeen
from smart_app.store.context import LaunchContextRow
from smart_app.store.database import Base, Database
from smart_app.store.drafts import DraftRow
from smart_app.store.launches import (
    LaunchRecord,
    TokenSealer,
    binding_hash,
    claim_state,
    find_by_handle,
    find_by_state,
    find_with_context_stamp,
    new_secret,
    swap_tokens,
)
from smart_app.store.writeback import AuditRow, LedgerStep, OutboxEntry, WriteJob

metadata = Base.metadata

__all__ = [
    "AuditRow",
    "Base",
    "CdsCardIssued",
    "CdsFeedback",
    "CdsJwtSeen",
    "Database",
    "DraftRow",
    "LaunchContextRow",
    "LaunchRecord",
    "LedgerStep",
    "OutboxEntry",
    "TokenSealer",
    "WriteJob",
    "binding_hash",
    "claim_state",
    "find_by_handle",
    "find_by_state",
    "find_with_context_stamp",
    "metadata",
    "new_secret",
    "swap_tokens",
]
