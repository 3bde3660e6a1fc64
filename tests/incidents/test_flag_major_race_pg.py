"""Ten technicians flag one incident at once on PostgreSQL: one candidate, one 201, nine 409s.

The incident row lock serialises the flags; the one-to-one on the candidate's incident is the
claim that would catch a flag that got past it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents.models import Incident, MajorIncidentCandidate, TimelineKind
from tests.concurrency import at_once
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

    def flag(n: int) -> tuple[int, dict[str, Any]]:
        response = clients[n].post(
            f"/api/incidents/{incident.number}/flag-major/", {"reason": f"flag {n}"}, format="json"
        )
        return response.status_code, response.json()

    results = at_once(flag, THREADS)
    assert sorted(code for code, _ in results) == [201] + [409] * (THREADS - 1), results
    assert MajorIncidentCandidate.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind=TimelineKind.FLAGGED).count() == 1
