"""The one TTL cache: entries expire on the injected clock, per-entry lifetimes, merging with a live entry,
a bound that drops expired entries first, and safe use from many threads."""

from __future__ import annotations

import threading

from smart_app.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_its_ttl_and_not_a_moment_longer() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(60, clock=clock)
    assert cache.get("a") is None
    assert cache.put("a", 1) == 1
    clock.now += 59.9
    assert cache.get("a") == 1
    clock.now += 0.1
    assert cache.get("a") is None and len(cache) == 0


def test_an_entry_may_have_its_own_ttl() -> None:
    clock = Clock()
    cache: TtlCache[str, str] = TtlCache(3600, clock=clock)
    cache.put("missing", "unknown", ttl=300)
    cache.put("known", "facts")
    clock.now += 301
    assert (cache.get("missing"), cache.get("known")) == (None, "facts")


def test_merge_combines_with_a_live_entry_only() -> None:
    clock = Clock()
    cache: TtlCache[str, set[str]] = TtlCache(10, clock=clock)
    cache.put("k", {"refused"})
    assert cache.put("k", {"new"}, merge=lambda old, new: old | new) == {"refused", "new"}
    clock.now += 11
    assert cache.put("k", {"newer"}, merge=lambda old, new: old | new) == {"newer"}


def test_change_keeps_the_expiry_and_ignores_a_dead_entry() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(10, clock=clock)
    cache.put("k", 1)
    clock.now += 5
    cache.change("k", lambda v: v + 1)
    assert cache.get("k") == 2
    clock.now += 5
    assert cache.get("k") is None
    cache.change("k", lambda v: v + 1)
    assert cache.get("k") is None


def test_the_bound_drops_expired_entries_first_then_the_nearest_expiry() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(100, max_entries=3, clock=clock)
    cache.put("short", 0, ttl=1)
    cache.put("a", 1)
    clock.now += 2  # "short" is dead now
    cache.put("b", 2)
    cache.put("c", 3)  # full: the dead entry goes, not "a"
    assert [cache.get(k) for k in ("short", "a", "b", "c")] == [None, 1, 2, 3]
    cache.put("d", 4)  # full, none dead: "a" expires first, so it goes
    assert [cache.get(k) for k in ("a", "b", "c", "d")] == [None, 2, 3, 4]
    cache.put("b", 5)  # replacing a present key evicts nothing
    assert len(cache) == 3


def test_pop_and_clear() -> None:
    cache: TtlCache[str, int] = TtlCache(10)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.pop("a")
    cache.pop("nothing")
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    cache.clear()
    assert len(cache) == 0


def _hammer(
    cache: TtlCache[int, int], barrier: threading.Barrier, offset: int, errors: list[BaseException]
) -> None:
    try:
        barrier.wait()
        for n in range(200):
            cache.put((n + offset) % 80, n)
            cache.get(n % 80)
            cache.change(n % 80, lambda v: v + 1)
    except BaseException as exc:
        errors.append(exc)


def test_many_threads_released_together_keep_it_consistent() -> None:
    for _trial in range(10):
        cache: TtlCache[int, int] = TtlCache(60, max_entries=50)
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_hammer, args=(cache, barrier, i * 7, errors)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(cache) <= 50
