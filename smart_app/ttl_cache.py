"""One small cache whose entries expire: SMART discovery, signing keys, CapabilityStatements, CDS client keys
and EHR style documents all keep what a server said for a while, and each used to do it by hand.

Thread-safe (gunicorn's threaded workers share it), bounded (a stream of new keys, e.g. style URLs, cannot
grow it without limit: the entry closest to expiry goes first) and driven by an injectable monotonic clock,
so tests move time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A map of ``key -> value`` where each entry lives ``ttl`` seconds (or its own ``ttl`` when put)."""

    def __init__(
        self, ttl: float, *, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The live value, or None when absent or expired (an expired entry is dropped)."""
        now = self.clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            if hit[0] <= now:
                del self._entries[key]
                return None
            return hit[1]

    def put(
        self,
        key: K,
        value: V,
        *,
        ttl: float | None = None,
        merge: Callable[[V, V], V] | None = None,
    ) -> V:
        """Store ``value`` for ``ttl`` (default: the cache's); ``merge(old, new)`` combines it with a live
        entry under the lock (e.g. a server's refusal outliving a re-read of its statement). Returns what
        was stored."""
        now = self.clock()
        with self._lock:
            old = self._entries.get(key)
            if merge is not None and old is not None and old[0] > now:
                value = merge(old[1], value)
            if old is None and len(self._entries) >= self.max_entries:
                self._evict(now)
            self._entries[key] = (now + (self.ttl if ttl is None else ttl), value)
        return value

    def change(self, key: K, update: Callable[[V], V]) -> None:
        """Replace a live entry's value, keeping its expiry; nothing when absent or expired."""
        now = self.clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                self._entries[key] = (hit[0], update(hit[1]))

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _evict(self, now: float) -> None:
        expired = [k for k, (until, _) in self._entries.items() if until <= now]
        for k in expired:
            del self._entries[k]
        if len(self._entries) >= self.max_entries:
            del self._entries[min(self._entries, key=lambda k: self._entries[k][0])]
