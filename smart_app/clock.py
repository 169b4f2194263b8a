"""The app's one source of the current time: always timezone-aware UTC.

Why: naive and aware datetimes cannot be compared (a ``TypeError`` at the first launch that crosses them), and
a naive value says nothing about its zone. Every timestamp the app makes comes from ``utcnow``; every one it
stores goes through ``smart_app.store.types.UtcDateTime``, which refuses naive values and hands back aware
ones on every database (SQLite included, which keeps no zone).
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)
