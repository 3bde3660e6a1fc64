"""Twenty concurrent API declarations of one incident on PostgreSQL: one 201, nineteen 409s."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents.models import Incident, MajorIncident
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
    start = threading.Barrier(THREADS)
    results: list[tuple[int, dict[str, Any]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def declare(client: APIClient) -> None:
        try:
            start.wait(timeout=30)
            response = client.post("/api/major-incidents/", body, format="json")
            with lock:
                results.append((response.status_code, response.json()))
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection; give it back

    threads = [threading.Thread(target=declare, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * (THREADS - 1), results
    mi = MajorIncident.objects.get(incident=incident)
    assert MajorIncident.objects.filter(incident=incident).count() == 1
    created = [data for code, data in results if code == 201]
    assert created[0]["number"] == mi.number
    for code, data in results:
        if code == 409:
            assert mi.number in data["detail"]
