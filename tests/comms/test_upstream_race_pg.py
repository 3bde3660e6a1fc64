"""Two upstream watchers at once on PostgreSQL (two beat processes, a retried task): both read
the provider's page, one tells each MI, the other finds nothing new to say.

The provider's ``UpstreamStatus`` row is locked before the stored state is compared, and each
MI's row is written only if its last word on the provider differs. SQLite serialises writers,
so the proof needs PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from comms.models import UpstreamStatus
from comms.services import upstream
from incidents.models import CIKind, ConfigurationItem, Incident, TimelineEntry, TimelineKind
from tests.concurrency import at_once
from tests.incidents.mi_fixtures import declare
from tests.stub_http import Reply, StubServer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks under concurrency need PostgreSQL"
    ),
]

WATCHERS = 4
OUTAGE = {
    "page": {"id": "p", "name": "Stripe", "url": "https://status.stripe.example"},
    "status": {"indicator": "major", "description": "Partial System Outage"},
    "components": [],
    "incidents": [{"id": "i1", "name": "Card declines", "status": "investigating"}],
}


def test_concurrent_watchers_tell_each_mi_once(
    transactional_db: None,
    alice: Any,
    make_ci: Callable[..., ConfigurationItem],
    make_incident: Callable[..., Incident],
) -> None:
    with StubServer() as stub:
        # Every watcher waits on the page a moment: their reads overlap, their stores race.
        stub.default = Reply(200, OUTAGE, hang=0.3)
        provider = ConfigurationItem.objects.create(
            name="Stripe", kind=CIKind.SAAS_DEPENDENCY, upstream_status_url=stub.url
        )
        checkout = make_ci("checkout", depends_on=(provider,))
        mis = [
            declare(make_incident(impact=1, urgency=1, affected_ci=checkout), alice)
            for _ in range(2)
        ]
        results = at_once(lambda _: upstream.watch_upstream_status(), WATCHERS)
        assert len(stub.requests) == WATCHERS  # each watcher read the page once
    assert sum(r["timeline_rows"] for r in results) == 2, results
    for mi in mis:
        rows = TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.UPSTREAM_STATUS)
        assert rows.count() == 1
    assert UpstreamStatus.objects.filter(ci=provider).count() == 1
