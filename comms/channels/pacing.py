"""Send-rate pacing shared by every worker: at most ``rate`` sends per second, counted in the
cache (Redis in production, so every worker process and machine counts in one place).

A fixed one-second window keyed by the epoch second: each send takes a slot with an atomic
``cache.incr`` on ``pace:<name>:<second>``; the one that finds the window full sleeps to the next
second and tries again. Chosen over a token bucket because it needs one atomic increment and no
script or lock (``incr`` is atomic in Redis and in the local-memory cache), and SES itself
counts its rate per second. The cost: up to twice the rate across a window boundary, which
SES's rate allowance absorbs (it accepts short bursts), and throttling, if it still happens, is
a temporary error the outbox retries.

A send that finds no slot within ``max_wait`` seconds is given back to the outbox as a temporary
error (retried later by the re-drive) instead of holding its worker indefinitely.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from django.core.cache import cache

from .base import TransportError

# A window's counter lives a little longer than its second (clocks of workers differ slightly).
WINDOW_TTL = 5


def acquire(
    name: str,
    rate: float,
    *,
    max_wait: float = 10.0,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Take one send slot of ``name``; returns the seconds waited for it.

    ``rate`` below 1 (a throttled account) allows one send per ``1/rate`` seconds: the window
    grows instead of the count shrinking below one.
    """
    if rate <= 0:
        return 0.0
    window = 1 if rate >= 1 else math.ceil(1 / rate)
    per_window = max(1, math.floor(rate * window))
    waited = 0.0
    # Bounded by rounds, not by the clock: a frozen clock (a test, a stalled VM) cannot spin.
    for _ in range(math.ceil(max_wait / window) + 1):
        moment = now()
        start = int(moment // window) * window
        key = f"pace:{name}:{window}:{start}"
        cache.add(key, 0, WINDOW_TTL + window)
        try:
            taken = cache.incr(key)
        except ValueError:  # expired between add and incr: a new window has begun
            continue
        if taken <= per_window:
            return waited
        pause = max(0.0, start + window - moment) + 0.001
        sleep(pause)
        waited += pause
    raise TransportError(
        f"send rate of {rate:g}/s reached for {waited:.1f} s; retrying later",
        retry_after=float(window),
    )
