"""The every-minute reconcile on a real worker (Redis + PostgreSQL): a CMDB change whose refresh
message was lost is applied from its record in the database.

Skipped unless RUN_CELERY_WORKER_TESTS=1 on PostgreSQL with a real broker (see conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from incidents.models import PendingImpactRefresh, TimelineKind
from incidents.tasks import reconcile

from .conftest import Worker
from .test_refresh_affected_users import wait_for_affected_users

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]


def test_the_reconcile_applies_a_change_whose_message_was_lost(
    celery_worker: Worker,
    make_ci: Callable[..., Any],
    make_incident: Callable[..., Any],
) -> None:
    database = make_ci("billing-db", users=5)
    api = make_ci("billing-api", users=20, depends_on=(database,))
    incident = make_incident(affected_ci=database)
    assert incident.affected_users == 25

    # The change and its record committed; its message never reached a worker.
    type(api).objects.filter(pk=api.pk).update(user_count=80)
    PendingImpactRefresh.objects.create(ci_id=api.pk)

    result = reconcile.delay()  # what beat sends every minute, to the periodic queue
    done = celery_worker.wait_for_log(
        rf"Task incidents\.tasks\.reconcile\[{re.escape(result.id)}\] succeeded in \S+: (\S+)"
    )
    assert done == ["1"]
    incident = wait_for_affected_users(incident, 85)
    rows = list(incident.timeline.filter(kind=TimelineKind.IMPACT_CHANGED))
    assert [r.data for r in rows] == [{"from": 25, "to": 85}]
    assert not PendingImpactRefresh.objects.exists()
