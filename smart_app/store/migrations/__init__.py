"""Alembic migrations of the app's store (run by ``smart_app.store.schema.upgrade`` on every start)."""
