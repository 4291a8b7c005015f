"""The rate limits' in-process counts (security.LocalCounters): fixed windows that expire, without a thread."""

from __future__ import annotations

import threading

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from shopper.security import LOCAL_COUNTERS_URI, LocalCounters


def test_the_default_storage_counts_a_fixed_window_and_starts_no_thread(monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("shopper.security.time.time", lambda: now[0])
    storage = storage_from_string(LOCAL_COUNTERS_URI)
    assert isinstance(storage, LocalCounters)
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("3 per minute")
    threads = threading.active_count()
    assert [limiter.hit(limit, "user:1") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "user:2")  # another key has its own count
    assert threading.active_count() == threads
    now[0] += 61
    assert limiter.hit(limit, "user:1")  # the window has passed
    assert limiter.get_window_stats(limit, "user:1").remaining == 2


def test_counts_nobody_reads_again_are_swept(monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("shopper.security.time.time", lambda: now[0])
    storage = LocalCounters()
    for n in range(100):
        storage.incr(f"address:{n}", expiry=10)
    now[0] += LocalCounters.SWEEP_SECONDS
    storage.incr("address:new", expiry=10)
    assert storage.reset() == 1
