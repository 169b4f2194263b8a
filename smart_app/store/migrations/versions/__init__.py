"""Migration scripts, oldest first (``0001`` is the baseline that also adopts pre-Alembic databases)."""
