"""A storm of one alert on PostgreSQL: 20 identical notifications at once open one incident.

Each payload inserts-or-gets its key's alert group (the unique pair is the claim) and locks the
row before it decides; the first opens the incident, the others queue on the lock and update it.
SQLite serialises writers, so the proof needs PostgreSQL and threads with their own connections.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from comms.models import Alert, AlertGroup, InboundEvent
from comms.services import inbound
from incidents.models import Incident
from tests.comms.inbound_fixtures import alertmanager, source
from tests.concurrency import at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks under concurrency need PostgreSQL"
    ),
]

SENDERS = 20


def test_twenty_identical_webhooks_at_once_open_one_incident(transactional_db: None) -> None:
    _, token = source("alertmanager", "storm")
    body = json.dumps(alertmanager()).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(_: int) -> int:
        return inbound.receive(kind="alertmanager", body=body, headers=headers).status

    statuses = at_once(send, SENDERS)
    assert statuses == [202] * SENDERS
    assert Incident.objects.count() == 1
    assert AlertGroup.objects.count() == 1 and Alert.objects.count() == 1
    assert AlertGroup.objects.get().notifications == SENDERS
    outcomes = sorted(InboundEvent.objects.values_list("outcome", flat=True))
    assert outcomes == ["created"] + ["updated"] * (SENDERS - 1)
