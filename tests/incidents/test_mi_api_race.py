"""Twenty concurrent API declarations of one incident on PostgreSQL: one 201, nineteen 409s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents.models import Incident, MajorIncident
from tests.concurrency import at_once
from tests.conftest import bearer_client

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks under concurrency need PostgreSQL"
    ),
]

THREADS = 20


def test_twenty_concurrent_declarations_make_one_mi(
    transactional_db: None, alice: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(impact=2, urgency=2)  # P3: no rule declares it on its own
    body = {
        "incident_id": incident.number,
        "major_incident_manager": alice.username,
        "bridge_link": "https://meet.google.com/abc-defg-hij",
        "initial_impact_statement": "Production API gateway returning 503 for all users",
    }
    clients: list[APIClient] = [bearer_client(alice) for _ in range(THREADS)]

    def declare(n: int) -> tuple[int, dict[str, Any]]:
        response = clients[n].post("/api/major-incidents/", body, format="json")
        return response.status_code, response.json()

    results = at_once(declare, THREADS)
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * (THREADS - 1), results
    mi = MajorIncident.objects.get(incident=incident)
    assert MajorIncident.objects.filter(incident=incident).count() == 1
    created = [data for code, data in results if code == 201]
    assert created[0]["number"] == mi.number
    for code, data in results:
        if code == 409:
            assert mi.number in data["detail"]
