"""Alembic environment: the connection comes from ``smart_app.store.schema.upgrade`` (never from a config
file), the target metadata is every table the app declares (``smart_app.store``)."""

from __future__ import annotations

from alembic import context

from smart_app.store import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
