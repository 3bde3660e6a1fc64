"""Two workers creating the MI's Slack channel at once on PostgreSQL: one channel per MI, one
rules post, one pin, every round.

``DATABASE_URL=postgres://… pytest tests/comms/test_chat_slack_race_pg.py``. The two processes
both deliver the same create operation (as after a re-drive past the lease), bypassing the
outbox's own claim, so only the ``IncidentChannel`` insert decides who talks to Slack.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from comms.models import IncidentChannel, OutboxMessage
from incidents import services
from tests.conftest import make_user
from tests.incidents.mi_fixtures import declare
from tests.incidents.test_mi_race_pg import _check_clean, _run_two_at_once
from tests.stub_http import Recorded, Reply, StubServer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 12

# Each process delivers round k's operation with the Slack channel itself once both are at the
# round's barrier; it prints how many rounds it created the channel in (the others: it found the
# channel being created, or ready).
SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, os.environ["MIM_REPO"])
import django
django.setup()
import logging
logging.getLogger("comms").setLevel(logging.WARNING)  # stderr must stay empty but for errors
from django.db import connection
from comms.channels import TransportError
from comms.channels.slack import SlackChannel
from comms.models import OutboxMessage
connection.ensure_connection()
ids = [int(i) for i in os.environ["MESSAGE_IDS"].split(",")]
channel = SlackChannel()
Path(os.environ["READY_FILE"]).touch()
gun = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not gun.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
barrier, me, created, waited = Path(os.environ["BARRIER_DIR"]), os.environ["ME"], 0, 0
for k, message_id in enumerate(ids):
    message = OutboxMessage.objects.get(pk=message_id)
    (barrier / f"{k}-{me}").touch()
    while not all((barrier / f"{k}-{n}").exists() for n in ("0", "1")):
        if time.monotonic() > deadline:
            raise SystemExit(f"round {k}: the other process never came")
        time.sleep(0.0005)
    try:
        sent = channel.send(message)
    except TransportError as exc:
        assert exc.message == "the channel is being created by another worker", exc.message
        waited += 1
        continue
    created += sent.data.get("created", 0)
print(f"waited {waited}")
print(created)
"""


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def test_two_workers_create_one_channel_per_mi(tmp_path: Path, stub: StubServer) -> None:
    alice = make_user("usr_alice_johnson", "itsm_manager", staff=True)
    ids = []
    for k in range(ROUNDS):
        incident = services.create_incident(actor=alice, short_description=f"Checkout down {k}")
        mi = declare(incident, alice)
        ids.append(
            OutboxMessage.objects.create(
                idempotency_key=f"slack:create:{mi.pk}",
                channel="slack",
                recipient="incident",
                purpose="create_channel",
                payload={"operation": "create_channel", "name": f"incident-race-{k}"},
                major_incident=mi,
            ).pk
        )
    created_names: Counter[str] = Counter()

    def web_api(request: Recorded) -> Reply | None:
        method = request.path.removeprefix("/api/")
        if method == "conversations.create":
            name = request.json()["name"]
            created_names[name] += 1
            # Slow, as Slack is: the other worker arrives while this one is still creating.
            return Reply(200, {"ok": True, "channel": {"id": f"C{name}", "name": name}}, hang=0.05)
        if method == "chat.postMessage":
            return Reply(200, {"ok": True, "ts": f"17.{len(stub.requests)}"})
        return None

    stub.handler = web_api
    env: dict[str, Any] = {
        "SLACK_BOT_TOKEN": "xoxb-race",
        "SLACK_API_URL": stub.url + "/api/",
        "MESSAGE_IDS": ",".join(map(str, ids)),
    }
    results = _run_two_at_once(SCRIPT, [{**env, "ME": "0"}, {**env, "ME": "1"}], tmp_path)
    created = _check_clean(results)
    waited = [int(out.split("waited ")[1].split()[0]) for _, out, _ in results]
    # The runs overlapped: in some rounds one worker found the other mid-create.
    assert sum(waited) > 0, waited

    assert sum(created) == ROUNDS, created  # exactly one creator a round
    assert dict(created_names) == {f"incident-race-{k}": 1 for k in range(ROUNDS)}
    rows = IncidentChannel.objects.order_by("name")
    assert rows.count() == ROUNDS
    assert all(row.channel_id == f"C{row.name}" for row in rows)
    posts = [r for r in stub.requests if r.path == "/api/chat.postMessage"]
    pins = [r for r in stub.requests if r.path == "/api/pins.add"]
    assert len(posts) == len(pins) == ROUNDS  # the rules posted and pinned once per channel
