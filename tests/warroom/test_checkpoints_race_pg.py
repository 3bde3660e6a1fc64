"""Two processes running ``warroom.tasks.check_checkpoints`` at once, on PostgreSQL: each
checkpoint's "due" and "late" events are sent once, and one "late" row is written each.

SQLite serialises writers, so the proof needs PostgreSQL:
``DATABASE_URL=postgres://… pytest tests/warroom/test_checkpoints_race_pg.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from incidents.models import TimelineEntry, TimelineKind
from tests.conftest import make_user
from tests.incidents.mi_fixtures import declare
from tests.incidents.test_mi_race_pg import _run_two_at_once
from warroom.models import Checkpoint

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

SCRIPT = """
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, os.environ["MIM_REPO"])
import django
django.setup()
from django.db import connection
from warroom import events, tasks
sent = {"due": [], "late": []}
def due(sender, checkpoint_id, **kwargs):
    sent["due"].append(checkpoint_id)
def late(sender, checkpoint_id, **kwargs):
    sent["late"].append(checkpoint_id)
events.checkpoint_due.connect(due, weak=False)
events.checkpoint_late.connect(late, weak=False)
connection.ensure_connection()
Path(os.environ["READY_FILE"]).touch()
gun = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not gun.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
tasks.check_checkpoints()
print(json.dumps(sent))
"""


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def test_two_sweeps_at_once_send_each_due_and_late_event_once(tmp_path, make_incident):
    alice = make_user("usr_alice_johnson", "itsm_manager", staff=True)
    # Declared 90 minutes ago: every checkpoint has fallen due and gone late. The declarations
    # commit (a transactional test), so their receivers make the checkpoints.
    with freeze_time(timezone.now() - timedelta(minutes=90)):
        mis = [declare(make_incident(impact=1, urgency=1), alice) for _ in range(25)]
    ids = set(Checkpoint.objects.filter(major_incident__in=mis).values_list("pk", flat=True))
    assert len(ids) == 25 * 7

    results = _run_two_at_once(SCRIPT, [{}, {}], tmp_path)
    sent: dict[str, Counter[int]] = {"due": Counter(), "late": Counter()}
    for rc, out, err in results:
        assert rc == 0, f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
        assert err.strip() == "", f"stderr:\n{err}"
        body = json.loads(out.strip().splitlines()[-1])
        for kind in sent:
            sent[kind].update(body[kind])
    for kind, counts in sent.items():
        assert set(counts) == ids, kind
        assert max(counts.values()) == 1, f"a {kind} event sent twice"
    late = Counter(
        TimelineEntry.objects.filter(
            major_incident__in=mis, kind=TimelineKind.CHECKPOINT, data__late=True
        ).values_list("data__checkpoint_id", flat=True)
    )
    assert set(late) == ids and max(late.values()) == 1
    assert not Checkpoint.objects.filter(pk__in=ids, late_notified_at__isnull=True).exists()


ASSESS = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, os.environ["MIM_REPO"])
import django
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
from incidents.models import MajorIncident
from warroom import services
mi = MajorIncident.objects.get(pk=int(os.environ["MI_ID"]))
actor = get_user_model().objects.get(username="usr_alice_johnson")
connection.ensure_connection()
Path(os.environ["READY_FILE"]).touch()
gun = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not gun.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
numbers = []
for n in range(5):
    revision = services.revise_assessment(
        mi=mi, actor=actor, affected_services=os.environ["WHO"] + str(n),
        sla_breach_risk="high", customer_symptoms="503",
    )
    numbers.append(revision.revision)
print(numbers)
"""


def test_two_writers_at_once_never_take_one_revision_number(tmp_path, make_incident):
    alice = make_user("usr_alice_johnson", "itsm_manager", staff=True)
    mi = declare(make_incident(impact=1, urgency=1), alice)
    results = _run_two_at_once(
        ASSESS, [{"MI_ID": str(mi.pk), "WHO": "a"}, {"MI_ID": str(mi.pk), "WHO": "b"}], tmp_path
    )
    numbers = []
    for rc, out, err in results:
        assert rc == 0, f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
        numbers += json.loads(out.strip().splitlines()[-1])
    assert sorted(numbers) == list(range(1, 11))
    rows = TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.ASSESSMENT)
    assert rows.count() == 10
    assert rows.filter(message__startswith="Initial assessment written").count() == 1
