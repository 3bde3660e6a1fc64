"""How long the every-minute tick takes on PostgreSQL: idle over many open MIs, and with every
one of them overdue at once (after a beat outage). Prints the figures (``pytest -s``) that
``docs/notes/cadence.md`` quotes; the bounds are loose, to catch a query per MI per rule.

``DATABASE_URL=postgres://… pytest -s tests/comms/test_cadence_load_pg.py``
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from comms import services
from comms.models import OutboxMessage, StakeholderGroup, StakeholderUpdate
from incidents.models import MajorIncident
from tests.conftest import make_user
from tests.incidents.mi_fixtures import declare

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MIS = 100


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the load figures are PostgreSQL's (DATABASE_URL=postgres://…)")


def test_one_tick_over_100_open_mis(make_incident: Any, alice: Any) -> None:
    group = StakeholderGroup.objects.get(slug="it-leadership")
    for name in ("cio", "cto", "cfo"):
        user = make_user(f"usr_{name}")
        user.email = f"{name}@example.test"
        user.save(update_fields=["email"])
        group.users.add(user)
    now = timezone.now()
    with freeze_time(now - timedelta(minutes=20)):
        mis = [declare(make_incident(impact=1, urgency=1), alice) for _ in range(MIS)]
    MajorIncident.objects.filter(pk__in=[m.pk for m in mis]).update(first_customer_update_at=now)
    services.send_due_updates()  # the communication clocks, the cached properties

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as idle_queries:
        services.send_due_updates()
    idle = time.perf_counter() - started

    # Every one of them overdue at once (beat was down): one automatic update each.
    MajorIncident.objects.filter(pk__in=[m.pk for m in mis]).update(
        next_update_due_at=now - timedelta(minutes=1)
    )
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as busy_queries:
        done = services.send_due_updates()
    busy = time.perf_counter() - started

    assert done["cadence"] == MIS
    assert StakeholderUpdate.objects.filter(update_type="cadence").count() == MIS
    rows = OutboxMessage.objects.filter(update__update_type="cadence", channel="email").count()
    assert rows == MIS * 3
    print(
        f"\nidle tick over {MIS} open MIs: {idle * 1000:.1f} ms, {len(idle_queries)} queries"
        f"\nbusy tick, {MIS} MIs overdue: {busy:.2f} s ({busy / MIS * 1000:.1f} ms per MI), "
        f"{len(busy_queries)} queries ({len(busy_queries) / MIS:.1f} per MI), "
        f"{rows} outbox rows queued"
    )
    assert len(idle_queries) <= 10
    assert busy < 60
