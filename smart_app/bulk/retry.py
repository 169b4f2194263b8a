"""``Retry-After`` in both of its forms (RFC 9110: delay-seconds or an HTTP-date), with a fallback backoff."""

from __future__ import annotations

import email.utils
import time

MAX_WAIT = 300.0


def retry_after_seconds(value: str | None, attempt: int, *, now: float | None = None) -> float:
    """Seconds to wait: the header's delay or date (never negative, at most ``MAX_WAIT``), else 1, 2, 4, …
    s."""
    if value:
        value = value.strip()
        try:
            return min(MAX_WAIT, max(0.0, float(value)))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return min(MAX_WAIT, max(0.0, when.timestamp() - (time.time() if now is None else now)))
    return min(MAX_WAIT, float(2 ** max(0, attempt - 1)))
