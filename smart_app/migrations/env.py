"""Alembic environment: the connection comes from ``smart_app.schema.upgrade`` (never from a config file), the
target metadata is every table the app declares."""

from __future__ import annotations

from alembic import context

from smart_app import tables  # noqa: F401  (declares every table on Base)
from smart_app.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
