"""The Celery app of test_comms_delivery's own workers: the project's app, with the outbox's
tasks routed to the test run's queue (``MIM_TEST_COMMS_QUEUE``) and lost tasks looked for often.

A worker's tasks queue further tasks (the re-drive queues deliveries) by its own routes: without
these, they would go to ``events``, where the session's worker (tests/celery_worker/conftest.py)
could take them and send them by its in-memory email backend.
"""

from __future__ import annotations

import os

from config.celery import app

QUEUE = os.environ["MIM_TEST_COMMS_QUEUE"]
ROUTED = ("comms.tasks.deliver", "comms.tasks.deliver_pending")

app.conf.task_routes = {
    **(app.conf.task_routes or {}),
    **{name: {"queue": QUEUE} for name in ROUTED},
}

# A killed worker's unacknowledged task comes back once Redis' visibility timeout (3 x the hard
# time limit, which the test sets low) has passed; kombu looks for such tasks about every
# 100 s by default. Every second here, so that the test sees the redelivery soon after.
app.conf.broker_transport_options = {
    **(app.conf.broker_transport_options or {}),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # The sweep's lock in Redis: a worker SIGKILLed while holding it would block every other
    # worker's sweep for the default 5 minutes.
    "unacked_mutex_expire": 5,
}

__all__ = ["app"]
