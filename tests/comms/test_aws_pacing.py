"""The shared send-rate limiter: never more than the rate in one second, however many workers
take slots at once (threads here, each its own "worker", on the local-memory cache and, when a
Redis answers on 127.0.0.1:6379, on Redis as in production); a frozen clock cannot spin."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import override_settings

from comms.channels import TransportError, pacing


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.3).close()
        return True
    except OSError:
        return False


LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pacing"}
# The suite runs in two processes (pytest-xdist) on one Redis: each keeps to keys of its own.
REDIS_PREFIX = f"mim-aws-pacing-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
REDIS = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:6379/13",
    "KEY_PREFIX": REDIS_PREFIX,
}


def _forget() -> None:
    """Empty this process's part of the cache: ``clear()`` on Redis is FLUSHDB, which would take
    the other process's keys in the middle of its test."""
    cache = caches["default"]
    if "redis" not in type(cache).__module__:
        cache.clear()
        return
    client = cache._cache.get_client()  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"{REDIS_PREFIX}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(
    params=[
        pytest.param(LOCMEM, id="locmem"),
        pytest.param(
            REDIS,
            id="redis",
            marks=pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379"),
        ),
    ]
)
def shared_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    with override_settings(CACHES={"default": request.param}):
        _forget()
        yield
        _forget()


def test_eight_workers_never_exceed_the_rate_in_any_second(shared_cache: None) -> None:
    rate, sends = 20, 70
    granted: list[float] = []
    lock = threading.Lock()
    todo = iter(range(sends))

    def worker() -> None:
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            pacing.acquire("test", rate, max_wait=30)
            with lock:
                granted.append(time.time())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per_second = Counter(int(moment) for moment in granted)
    assert len(granted) == sends
    assert max(per_second.values()) <= rate
    # 70 sends at 20/s need four windows: three boundaries, so more than two seconds.
    assert len(per_second) >= 4
    assert time.time() - started > 2.0


def test_a_rate_below_one_widens_the_window(shared_cache: None) -> None:
    clock = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    assert pacing.acquire("slow", 0.5, now=lambda: clock[0], sleep=sleep) == 0.0
    waited = pacing.acquire("slow", 0.5, now=lambda: clock[0], sleep=sleep)
    assert 1.9 < waited < 2.1 and clock[0] >= 1002.0


def test_a_frozen_clock_gives_the_send_back_instead_of_spinning(shared_cache: None) -> None:
    pacing.acquire("frozen", 1, now=lambda: 5000.0, sleep=lambda s: None)
    with pytest.raises(TransportError) as raised:
        pacing.acquire("frozen", 1, max_wait=3, now=lambda: 5000.0, sleep=lambda s: None)
    assert not raised.value.permanent and raised.value.retry_after == 1.0
