"""Two updates of one MI pushed to Statuspage at once, by two processes on PostgreSQL: one
incident per MI on the page, every round; the other update waits and then updates it.

``DATABASE_URL=postgres://… pytest tests/comms/test_chat_statuspage_race_pg.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from comms.models import ExternalRecord, OutboxMessage
from incidents import services
from tests.conftest import make_user
from tests.incidents.mi_fixtures import declare
from tests.incidents.test_mi_race_pg import _check_clean, _run_two_at_once
from tests.stub_http import Recorded, Reply, StubServer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 12
PAGE = "pgrace"

# Process ME pushes its own update (update ids 2k+1 and 2k+2) of round k's MI at the barrier;
# it prints how many of its pushes opened an incident (POST) rather than waited or updated.
SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, os.environ["MIM_REPO"])
import django
django.setup()
from django.db import connection
from comms.channels import TransportError
from comms.channels.statuspage import StatuspageChannel
from comms.models import ExternalRecord, OutboxMessage
connection.ensure_connection()
ids = [int(i) for i in os.environ["MESSAGE_IDS"].split(",")]
channel = StatuspageChannel()
Path(os.environ["READY_FILE"]).touch()
gun = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not gun.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
barrier, me, waited = Path(os.environ["BARRIER_DIR"]), os.environ["ME"], 0
for k, message_id in enumerate(ids):
    message = OutboxMessage.objects.get(pk=message_id)
    (barrier / f"{k}-{me}").touch()
    while not all((barrier / f"{k}-{n}").exists() for n in ("0", "1")):
        if time.monotonic() > deadline:
            raise SystemExit(f"round {k}: the other process never came")
        time.sleep(0.0005)
    try:
        channel.send(message)
    except TransportError as exc:
        assert "being opened by another message" in exc.message, exc.message
        waited += 1
print(waited)
"""


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def test_two_pushes_at_once_open_one_incident_per_mi(tmp_path: Path, stub: StubServer) -> None:
    alice = make_user("usr_alice_johnson", "itsm_manager", staff=True)
    mine: list[list[int]] = [[], []]
    mi_ids = []
    for k in range(ROUNDS):
        mi = declare(services.create_incident(actor=alice, short_description=f"Down {k}"), alice)
        mi_ids.append(mi.pk)
        for me in (0, 1):
            update_id = 2 * k + me + 1
            mine[me].append(
                OutboxMessage.objects.create(
                    idempotency_key=f"sp:{mi.pk}:{update_id}",
                    channel="statuspage",
                    recipient="page",
                    purpose="status_page",
                    payload={
                        "subject": f"Down {k}",
                        "text": f"update {update_id}",
                        "update_id": update_id,
                        "mi": {"status": "investigating"},
                    },
                    major_incident=mi,
                ).pk
            )
    opened: Counter[str] = Counter()

    def api(request: Recorded) -> Reply | None:
        if request.method == "POST":
            name = request.json()["incident"]["name"]
            opened[name] += 1
            # Slow, so the other push arrives while this one is opening the incident.
            return Reply(201, {"id": f"inc-{name.split()[-1]}"}, hang=0.05)
        return Reply(200, {"id": request.path.rsplit("/", 1)[1]})

    stub.handler = api
    env = {
        "STATUSPAGE_API_KEY": "sp-race",
        "STATUSPAGE_PAGE_ID": PAGE,
        "STATUSPAGE_API_URL": stub.url + "/v1/",
    }
    envs = [{**env, "ME": str(me), "MESSAGE_IDS": ",".join(map(str, mine[me]))} for me in (0, 1)]
    waited = _check_clean(_run_two_at_once(SCRIPT, envs, tmp_path))

    assert sum(waited) > 0, waited  # the pushes really overlapped
    assert dict(opened) == {f"Down {k}": 1 for k in range(ROUNDS)}  # one incident per MI
    records = ExternalRecord.objects.filter(channel="statuspage", major_incident_id__in=mi_ids)
    assert sorted(records.values_list("external_id", flat=True)) == sorted(
        f"inc-{k}" for k in range(ROUNDS)
    )
