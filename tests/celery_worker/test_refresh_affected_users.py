"""CMDB changes reach open incidents through a real Celery worker (broker + PostgreSQL).

The API enqueues ``incidents.tasks.refresh_affected_users`` after commit when a CI's dependencies
or user count change; a worker process, on the same test database, recomputes the incidents'
affected users. Skipped unless RUN_CELERY_WORKER_TESTS=1 on PostgreSQL with a real broker.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from incidents.models import Incident, TimelineKind
from incidents.tasks import refresh_affected_users

from .conftest import Worker

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

POLL_TIMEOUT_S = 20.0


def wait_for_affected_users(incident: Incident, expected: int) -> Incident:
    """Poll (bounded) until the worker has written ``expected`` affected users."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        fresh = Incident.objects.get(pk=incident.pk)
        if fresh.affected_users == expected:
            return fresh
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{incident.number}: affected_users is {fresh.affected_users} after "
                f"{POLL_TIMEOUT_S}s, expected {expected}"
            )
        time.sleep(0.1)


def succeeded(worker: Worker, task_id: str, *, timeout: float = POLL_TIMEOUT_S) -> str:
    """Wait for the worker to report ``task_id`` done; return the task's result as logged."""
    pattern = (
        rf"Task incidents\.tasks\.refresh_affected_users\[{re.escape(task_id)}\] "
        r"succeeded in \S+: (\S+)"
    )
    return worker.wait_for_log(pattern, timeout=timeout)[0]


def impact_rows(incident: Incident) -> list[Any]:
    return list(incident.timeline.filter(kind=TimelineKind.IMPACT_CHANGED))


def test_cmdb_change_through_api_is_applied_by_the_worker(
    celery_worker: Worker,
    alice_api: Any,
    make_ci: Callable[..., Any],
    make_incident: Callable[..., Any],
) -> None:
    checkout = make_ci("checkout", users=100)
    mobile = make_ci("mobile-app", users=50)
    incident = make_incident(affected_ci=checkout)
    assert incident.affected_users == 100

    # mobile-app starts depending on checkout: an outage of checkout now reaches 150 users.
    response = alice_api.patch(
        f"/api/cis/{mobile.pk}/", {"depends_on": [checkout.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    incident = wait_for_affected_users(incident, 150)

    # More users on mobile-app: 100 + 70.
    response = alice_api.patch(f"/api/cis/{mobile.pk}/", {"user_count": 70}, format="json")
    assert response.status_code == 200, response.content
    incident = wait_for_affected_users(incident, 170)

    # The worker did it (not an eager call in this process), once per change.
    done = celery_worker.wait_for_log(
        r"Task incidents\.tasks\.refresh_affected_users\[[0-9a-f-]+\] succeeded", count=2
    )
    assert len(done) >= 2
    rows = impact_rows(incident)
    assert [(r.data["from"], r.data["to"]) for r in rows] == [(100, 150), (150, 170)]


def test_refresh_task_is_idempotent_on_the_worker(
    celery_worker: Worker,
    make_ci: Callable[..., Any],
    make_incident: Callable[..., Any],
) -> None:
    database = make_ci("orders-db", users=10)
    api = make_ci("orders-api", users=40, depends_on=(database,))
    incident = make_incident(affected_ci=database)
    assert incident.affected_users == 50

    # Change the CMDB behind the services' back, so nothing is enqueued but our two calls.
    type(api).objects.filter(pk=api.pk).update(user_count=90)

    first = refresh_affected_users.delay([api.pk])
    assert succeeded(celery_worker, first.id) == "1"  # one incident changed
    second = refresh_affected_users.delay([api.pk])
    assert succeeded(celery_worker, second.id) == "0"  # nothing left to change

    incident = wait_for_affected_users(incident, 100)
    rows = impact_rows(incident)
    assert len(rows) == 1
    assert rows[0].data == {"from": 50, "to": 100}
