"""Timings of the updates endpoints and panel, in process (Django's test client): run with
``RUN_UPDATES_TIMING=1 pytest -s tests/comms/test_updates_timing.py``; figures in
docs/notes/updates.md. Skipped otherwise: it measures, it asserts nothing about speed."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from comms import services
from incidents.models import MajorIncident
from tests.conftest import bearer_client

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not os.environ.get("RUN_UPDATES_TIMING"), reason="RUN_UPDATES_TIMING=1"),
]
ROUNDS = 40


def _timed(call: Callable[[], Any]) -> tuple[float, float]:
    call()  # warm: system properties cached, templates compiled
    spent = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return statistics.median(spent), spent[int(ROUNDS * 0.95) - 1]


def test_timings(mi: MajorIncident, alice: Any, browser_for: Any) -> None:
    for i in range(50):
        services.create_update(
            mi=mi, actor=alice, update_type="cadence", current_impact=f"Impact {i}",
            current_action="Acting", user_action="Wait",
            next_update_at=datetime(2030, 1, 1, tzinfo=UTC),
        )  # fmt: skip
    api, web = bearer_client(alice), browser_for(alice)
    base = f"/api/major-incidents/{mi.number}/"
    cases: dict[str, Callable[[], Any]] = {
        "POST drafts/ (template)": lambda: api.post(
            base + "drafts/", {"type": "cadence", "drafter": "template"}, format="json"
        ),
        "GET updates/ (50 rows)": lambda: api.get(base + "updates/"),
        "GET canned-responses/": lambda: api.get(base + "canned-responses/"),
        "GET panel (50 rows)": lambda: web.get(f"/war-rooms/{mi.number}/updates/"),
    }
    for name, call in cases.items():
        median, p95 = _timed(call)
        print(f"{name}: median {median:.1f} ms, p95 {p95:.1f} ms")
