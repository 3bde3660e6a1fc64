"""Two processes running ``comms.tasks.send_due_updates`` at once, on PostgreSQL: one update
per MI per slot, one message per recipient per slot, one reminder per due time, one all-clear.

SQLite serialises writers, so the proof needs PostgreSQL:
``DATABASE_URL=postgres://… pytest tests/comms/test_cadence_race_pg.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from comms.models import CommsState, OutboxMessage, StakeholderGroup, StakeholderUpdate
from incidents import services as incident_services
from incidents.models import MajorIncident, MIStatus, RaciRole, RoleRoster, TimelineEntry
from tests.conftest import make_user
from tests.incidents.mi_fixtures import declare
from tests.incidents.test_mi_race_pg import _run_two_at_once

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
from django.core import mail
from django.db import connection
from comms import tasks
connection.ensure_connection()
Path(os.environ["READY_FILE"]).touch()
gun = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not gun.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
started = time.monotonic()
done = [tasks.send_due_updates() for _ in range(int(os.environ["ROUNDS"]))]
elapsed = time.monotonic() - started
print(json.dumps({
    "done": done,
    "seconds": elapsed,
    "mail": [[m.subject, m.to[0]] for m in mail.outbox],
}))
"""

OPEN_MIS = 12
RESOLVED_MIS = 4


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def person(username: str, email: str) -> Any:
    user = make_user(username, "technician")
    user.email = email
    user.save(update_fields=["email"])
    return user


def test_two_schedulers_at_once_send_each_slot_once(tmp_path: Any, make_incident: Any) -> None:
    alice = make_user("usr_alice_johnson", "itsm_manager", staff=True)
    group = StakeholderGroup.objects.get(slug="it-leadership")
    group.users.add(person("usr_cio", "cio@example.test"), person("usr_cto", "cto@example.test"))
    RoleRoster.objects.create(
        role=RaciRole.EXECUTIVE_SPONSOR, user=person("usr_erin", "erin@example.test")
    )
    RoleRoster.objects.create(
        role=RaciRole.COMMUNICATIONS_LEAD, user=person("usr_carol", "carol@example.test")
    )
    now = timezone.now()
    # Declared 61 minutes ago: the 30-minute update is overdue, the executive hour just passed.
    # The declarations commit (a transactional test), so comms' receivers run for each.
    with freeze_time(now - timedelta(minutes=61)):
        overdue = [declare(make_incident(impact=1, urgency=1), alice) for _ in range(OPEN_MIS)]
    # Declared 27 minutes ago: due in 3 minutes, so the communications lead is reminded.
    with freeze_time(now - timedelta(minutes=27)):
        reminded = [declare(make_incident(impact=1, urgency=1), alice) for _ in range(OPEN_MIS)]
    # Resolved more than recovery_monitoring_hours (2 h) ago: the all-clear is due.
    resolved = []
    for _ in range(RESOLVED_MIS):
        with freeze_time(now - timedelta(minutes=200)):
            mi = declare(make_incident(impact=1, urgency=1), alice)
            incident_services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
        with freeze_time(now - timedelta(minutes=180)):
            incident_services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
        resolved.append(mi)
    before = set(OutboxMessage.objects.values_list("pk", flat=True))

    results = _run_two_at_once(SCRIPT, [{"ROUNDS": "3"}, {"ROUNDS": "3"}], tmp_path)
    mails: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    for rc, out, err in results:
        assert rc == 0, f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
        assert "Traceback" not in err, err
        body = json.loads(out.strip().splitlines()[-1])
        for done in body["done"]:
            totals.update(done)
        mails.update((subject, to) for subject, to in body["mail"])

    assert totals["cadence"] == OPEN_MIS
    assert totals["executive"] == OPEN_MIS
    assert totals["reminders"] == OPEN_MIS
    assert totals["all_clear"] == RESOLVED_MIS
    # One message per recipient per subject (each subject names its MI), none twice.
    assert mails and max(mails.values()) == 1, [k for k, v in mails.items() if v > 1][:5]
    for mi in overdue:
        cadence = StakeholderUpdate.objects.filter(major_incident=mi, update_type="cadence")
        assert cadence.count() == 1
        executive = StakeholderUpdate.objects.filter(major_incident=mi, update_type="executive")
        assert executive.count() == 1
        emails = Counter(
            OutboxMessage.objects.filter(update__in=[*cadence, *executive]).values_list(
                "update__update_type", "recipient"
            )
        )
        assert emails == {
            ("cadence", "cio@example.test"): 1,
            ("cadence", "cto@example.test"): 1,
            ("cadence", "erin@example.test"): 1,
            ("executive", "erin@example.test"): 1,
        }
    for mi in reminded:
        rows = OutboxMessage.objects.filter(major_incident=mi, purpose="reminder")
        assert list(rows.values_list("recipient", flat=True)) == ["carol@example.test"]
        assert not StakeholderUpdate.objects.filter(major_incident=mi, update_type="cadence")
    for mi in resolved:
        assert StakeholderUpdate.objects.filter(major_incident=mi, slot="all_clear").count() == 1
        assert CommsState.objects.get(major_incident=mi).all_clear_sent_at is not None
        assert MajorIncident.objects.get(pk=mi.pk).all_clear_at is not None
        milestone_rows = TimelineEntry.objects.filter(
            major_incident=mi, data__milestone="all_clear_at"
        )
        assert milestone_rows.count() == 1
    new = OutboxMessage.objects.exclude(pk__in=before)
    assert set(new.values_list("status", flat=True)) == {"sent"}
