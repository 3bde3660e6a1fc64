"""Delivery rate of the chat channels against the local stub (docs/notes/chat.md, Performance).

Off unless ``MIM_BENCH=1``: ``MIM_BENCH=1 pytest -s tests/comms/test_chat_bench.py``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from comms import services
from comms.models import OutboxMessage
from incidents.models import MajorIncident
from tests.stub_http import Reply, StubServer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(os.environ.get("MIM_BENCH") != "1", reason="a benchmark: MIM_BENCH=1"),
]

N = 300


@pytest.mark.parametrize("channel", ["slack", "teams", "webhook"])
def test_delivery_rate(mi: MajorIncident, stub: StubServer, settings: Any, channel: str) -> None:
    settings.SLACK_BOT_TOKEN = "xoxb-bench"
    settings.SLACK_API_URL = stub.url + "/api/"
    settings.TEAMS_WEBHOOK_URL = stub.url + "/teams"
    settings.MIM_WEBHOOK_SECRET = "bench-secret"
    stub.default = Reply(200, {"ok": True, "channel": "C1", "ts": "1.1"})
    recipient = {"slack": "C1", "teams": stub.url + "/teams", "webhook": stub.url + "/hook"}
    payload = {
        "subject": "Checkout is down",
        "text": "Current impact: …",
        "parts": {"current_impact": "a", "current_action": "b", "user_action": "c"},
        "mi": {"number": mi.number, "url": "http://localhost:8000/war-rooms/x/"},
    }
    services.enqueue(
        [
            services.NewMessage(
                channel, recipient[channel], f"bench:{channel}:{n}", "cadence", payload
            )
            for n in range(N)
        ]
    )
    ids = list(OutboxMessage.objects.values_list("id", flat=True))
    started = time.perf_counter()
    counts = services.deliver(ids)
    elapsed = time.perf_counter() - started
    print(f"\n{channel}: {N} messages in {elapsed:.2f} s = {N / elapsed:.0f}/s per worker")
    assert counts["sent"] == N
    assert len(stub.requests) == N  # once each
