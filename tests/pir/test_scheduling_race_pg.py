"""Two processes running ``pir.tasks.schedule_due_reviews`` at once, on PostgreSQL: each
reminder once per person, each overdue flag once, each missed review scheduled once.

SQLite serialises writers, so the proof needs PostgreSQL:
``DATABASE_URL=postgres://… pytest tests/pir/test_scheduling_race_pg.py``.
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

from comms.models import OutboxMessage
from incidents import services as incident_services
from incidents.models import MajorIncident, MIStatus, RaciRole, RoleRoster, TimelineEntry
from pir.models import PostIncidentReview
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
from pir import tasks
connection.ensure_connection()
Path(os.environ["READY_FILE"]).touch()
gun = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not gun.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
done = [tasks.schedule_due_reviews() for _ in range(int(os.environ["ROUNDS"]))]
print(json.dumps({"done": done, "mail": [[m.subject, m.to[0]] for m in mail.outbox]}))
"""

EACH = 6  # MIs of each kind
INVITEES = 3  # alice (IC), erin (technical lead), pat (problem manager)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def person(username: str, email: str, *roles: str) -> Any:
    user = make_user(username, *roles)
    user.email = email
    user.save(update_fields=["email"])
    return user


def resolved_at(make_incident: Any, alice: Any, at: Any) -> MajorIncident:
    """An MI resolved at ``at``; the transactions commit, so the PIR's receiver schedules it."""
    with freeze_time(at - timedelta(minutes=30)):
        mi = declare(make_incident(impact=1, urgency=1), alice)
        incident_services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
    with freeze_time(at):
        incident_services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
    return mi


def test_two_schedulers_at_once_send_each_reminder_once_per_person(
    tmp_path: Any, make_incident: Any
) -> None:
    alice = person("usr_alice_johnson", "alice@example.test", "itsm_manager")
    person("usr_mia_manager", "mia@example.test", "itsm_manager")
    RoleRoster.objects.create(
        role=RaciRole.TECHNICAL_LEAD, user=person("usr_erin", "erin@example.test", "technician")
    )
    RoleRoster.objects.create(
        role=RaciRole.PROBLEM_MANAGER, user=person("usr_pat", "pat@example.test", "technician")
    )
    now = timezone.now()
    # Meeting (resolved + 48 h) in 30 minutes: the 1 h reminder is due (and the 24 h one with
    # it, marked done: only the 1 h one goes).
    soon = [
        resolved_at(make_incident, alice, now - timedelta(hours=47, minutes=30))
        for _ in range(EACH)
    ]
    # Meeting in 23 h 30 min: the 24 h reminder is due.
    tomorrow = [
        resolved_at(make_incident, alice, now - timedelta(hours=24, minutes=30))
        for _ in range(EACH)
    ]
    # Resolved six days ago: past the five-day publish deadline.
    overdue = [resolved_at(make_incident, alice, now - timedelta(days=6)) for _ in range(EACH)]
    # Resolved an hour ago, but the receiver "failed": no review until the catch-up.
    missed = [resolved_at(make_incident, alice, now - timedelta(hours=1)) for _ in range(EACH)]
    PostIncidentReview.objects.filter(major_incident__in=missed).delete()
    # The overdue ones' meetings are long past; their reminders are not the point here.
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

    assert totals["reminded_1h"] == EACH
    assert totals["reminded_24h"] == EACH
    assert totals["overdue"] == EACH
    assert totals["scheduled"] == EACH
    # One message per recipient per subject (each names its MI), none twice.
    assert mails and max(mails.values()) == 1, [k for k, v in mails.items() if v > 1][:5]
    new = OutboxMessage.objects.exclude(pk__in=before)
    for mi in soon + tomorrow:
        reminders = new.filter(major_incident=mi, purpose="pir_reminder")
        assert sorted(reminders.values_list("recipient", flat=True)) == [
            "alice@example.test",
            "erin@example.test",
            "pat@example.test",
        ]
        review = PostIncidentReview.objects.get(major_incident=mi)
        assert review.reminded_24h_for == review.meeting_at
    for mi in soon:
        assert PostIncidentReview.objects.get(major_incident=mi).reminded_1h_for is not None
        (subject,) = set(new.filter(major_incident=mi).values_list("subject", flat=True))
        assert "in one hour" in subject
    for mi in overdue:
        flagged = new.filter(major_incident=mi, purpose="pir_overdue")
        assert sorted(flagged.values_list("recipient", flat=True)) == [
            "alice@example.test",
            "mia@example.test",
        ]
        rows = TimelineEntry.objects.filter(major_incident=mi, data__overdue=True)
        assert rows.count() == 1
    for mi in missed:
        invitations = new.filter(major_incident=mi, purpose="pir_invitation")
        assert invitations.count() == INVITEES
        assert PostIncidentReview.objects.get(major_incident=mi).meeting_sequence == 0
    assert set(new.values_list("status", flat=True)) == {"sent"}
