"""The every-minute tick reads the due work with a fixed number of queries: with nothing due it
costs the same for 5 open MIs as for 50 (no query per MI)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from comms import services
from tests.incidents.mi_fixtures import T0, declare

pytestmark = pytest.mark.django_db


def idle_tick_queries(make_incident: Any, alice: Any, count: int) -> int:
    with freeze_time(T0) as clock:
        for _ in range(count):
            mi = declare(make_incident(impact=1, urgency=1), alice)
            # As if the initial notification went out: the first customer update is in.
            type(mi).objects.filter(pk=mi.pk).update(first_customer_update_at=T0)
        clock.move_to(T0 + timedelta(minutes=1))
        services.send_due_updates()  # makes the communication clocks
        clock.move_to(T0 + timedelta(minutes=2))
        services.send_due_updates()  # the system properties are cached from here on
        with CaptureQueriesContext(connection) as queries:
            done = services.send_due_updates()
    assert set(done.values()) == {0}
    return len(queries)


def test_an_idle_tick_costs_the_same_for_5_and_50_open_mis(make_incident: Any, alice: Any) -> None:
    few = idle_tick_queries(make_incident, alice, 5)
    many = idle_tick_queries(make_incident, alice, 45)  # 50 open now
    assert few == many
    assert few == 6  # one per rule, none per MI
