"""Two processes sending the monthly report at once (two beat processes, or beat and the
catch-up tick) send it once: one KpiReport, one email per manager. PostgreSQL only:
``DATABASE_URL=postgres://… pytest tests/pir/test_monthly_report_race_pg.py``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from freezegun import freeze_time

from comms.models import OutboxMessage
from pir.models import KpiReport
from pir.services import reports
from tests.concurrency import at_once
from tests.conftest import make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
RUNNERS = 4


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def test_runs_at_once_send_the_month_once() -> None:
    for n in range(3):
        user = make_user(f"usr_manager_{n}", "itsm_manager")
        user.email = f"manager{n}@example.test"
        user.save(update_fields=["email"])
    at = datetime(2026, 4, 1, 8, tzinfo=UTC)
    with freeze_time(at, real_asyncio=True):
        results = at_once(lambda _: reports.send_monthly_report(at), RUNNERS)
    assert all(isinstance(r, dict) for r in results), results
    assert sorted(r["sent"] for r in results) == [0] * (RUNNERS - 1) + [3]
    assert KpiReport.objects.count() == 1
    assert OutboxMessage.objects.filter(purpose="kpi_report").count() == 3
