"""Alembic migrations of the app's store (run by ``smart_app.schema.upgrade`` on every start)."""
