"""Ten technicians flag one incident at once on PostgreSQL: one candidate, one 201, nine 409s.

The incident row lock serialises the flags; the one-to-one on the candidate's incident is the
claim that would catch a flag that got past it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents.models import Incident, MajorIncidentCandidate, TimelineKind
from tests.conftest import bearer_client

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks under concurrency need PostgreSQL"
    ),
]

THREADS = 10


def test_concurrent_flags_make_one_candidate(
    transactional_db: None, tina: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(impact=2, urgency=2)
    clients: list[APIClient] = [bearer_client(tina) for _ in range(THREADS)]
    start = threading.Barrier(THREADS)
    results: list[tuple[int, dict[str, Any]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def flag(client: APIClient, n: int) -> None:
        try:
            start.wait(timeout=30)
            response = client.post(
                f"/api/incidents/{incident.number}/flag-major/",
                {"reason": f"flag {n}"},
                format="json",
            )
            with lock:
                results.append((response.status_code, response.json()))
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=flag, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(code for code, _ in results) == [201] + [409] * (THREADS - 1), results
    assert MajorIncidentCandidate.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind=TimelineKind.FLAGGED).count() == 1
