"""The KPIs equal the figures worked out by hand on a fixed data set, and cost the same number of
queries for 10 and for 10,000 incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from incidents.errors import DomainError
from incidents.models import ConfigurationItem, Incident, MajorIncident
from pir.selectors import metrics

from .metrics_data import BY_PRIORITY, END, EXPECTED, MONTHLY, NOW, START, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(db: None) -> dict[str, Any]:
    return build()


def _period(**kw: Any) -> metrics.Period:
    return metrics.Period(start=START, end=END, **kw)


def test_every_kpi_equals_the_hand_computed_value(data: dict[str, Any]) -> None:
    with freeze_time(NOW):
        result = metrics.metrics(_period())
    got = {k.key: (k.value, k.sample) for k in result.kpis}
    assert got == EXPECTED


def test_the_monthly_counts_change_and_mttr_are_the_hand_computed_ones(
    data: dict[str, Any],
) -> None:
    with freeze_time(NOW):
        result = metrics.metrics(_period())
    assert [
        (m["month"], m["mis"], m["change_percent"], m["mttr_seconds"]) for m in result.monthly
    ] == MONTHLY


def test_mtta_mttd_mttr_per_priority_are_the_hand_computed_ones(data: dict[str, Any]) -> None:
    with freeze_time(NOW):
        result = metrics.metrics(_period())
    assert {
        r["priority"]: (r["incidents"], r["mtta_seconds"], r["mttd_seconds"], r["mttr_seconds"])
        for r in result.by_priority
    } == BY_PRIORITY


def test_mtbf_per_service_is_the_gap_between_consecutive_starts(data: dict[str, Any]) -> None:
    with freeze_time(NOW):
        result = metrics.metrics(_period())
    assert [(s["service"], s["mis"], s["mtbf_seconds"]) for s in result.by_service] == [
        ("Service A", 2, 781800.0),
        ("Service B", 1, None),
    ]


def test_each_kpi_lists_the_tickets_behind_it_with_links_and_never_a_cancelled_mi(
    data: dict[str, Any],
) -> None:
    m1, m2, m3, m4 = data["mis"]
    with freeze_time(NOW):
        result = metrics.metrics(_period())
    assert [i["number"] for i in result.kpi("mi_count").items] == [m3.number, m2.number, m1.number]
    assert result.kpi("mi_count").items[0]["url"] == f"/war-rooms/{m3.number}/"
    assert [i["number"] for i in result.kpi("overdue_action_items").items] == [
        m3.number,
        m1.number,
    ]
    assert result.kpi("mtta").items[0]["url"].startswith("/incidents/INC")
    assert all(m4.number not in [i["number"] for i in k.items] for k in result.kpis)
    assert all(k.formula for k in result.kpis)


def test_a_service_narrows_every_kpi_to_its_incidents_and_mis(data: dict[str, Any]) -> None:
    with freeze_time(NOW):
        result = metrics.metrics(_period(service=data["b"]))
    assert result.kpi("mi_count").value == 1
    assert result.kpi("mttr").value == 21600.0  # i3 alone (i4 unresolved)
    assert result.kpi("mtbf").value is None
    assert result.kpi("pirs_on_time").value == 0.0


def test_the_items_list_stops_at_twenty(db: None) -> None:
    ci = ConfigurationItem.objects.create(name="Busy", kind="business_service")
    at = datetime(2026, 3, 1, tzinfo=UTC)
    incidents = Incident.objects.bulk_create(
        Incident(short_description="x", created_at=at + timedelta(hours=n), affected_ci=ci)
        for n in range(25)
    )
    MajorIncident.objects.bulk_create(
        MajorIncident(incident=i, impact_statement="x", declared_at=i.created_at) for i in incidents
    )
    with freeze_time(NOW):
        result = metrics.metrics(_period())
    assert result.kpi("mi_count").value == 25
    assert len(result.kpi("mi_count").items) == metrics.ITEMS == 20


def _seed(n: int) -> None:
    ci = ConfigurationItem.objects.create(name=f"Service {n}", kind="business_service")
    base = datetime(2026, 2, 1, tzinfo=UTC)
    incidents = Incident.objects.bulk_create(
        Incident(
            short_description="bulk",
            created_at=base + timedelta(minutes=7 * k),
            acknowledged_at=base + timedelta(minutes=7 * k + 5),
            resolved_at=base + timedelta(minutes=7 * k + 90),
            priority=1 + k % 5,
            affected_ci=ci,
        )
        for k in range(n)
    )
    MajorIncident.objects.bulk_create(
        MajorIncident(
            incident=i, impact_statement="x", declared_at=i.created_at + timedelta(minutes=9)
        )
        for i in incidents[: max(2, n // 100)]
    )


def _queries() -> int:
    with CaptureQueriesContext(connection) as ctx, freeze_time(NOW):
        metrics.metrics(_period())
    return len(ctx.captured_queries)


def test_the_same_number_of_queries_for_10_and_10000_incidents(db: None) -> None:
    _seed(10)
    _queries()  # the first reads the target minutes into the property cache
    few = _queries()
    _seed(10_000 - 10)
    assert Incident.objects.count() == 10_000
    assert _queries() == few


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-05-01", "to": "2026-04-01"}, "from"),
        ({"from": "2026-05-01", "to": "2026-05-01T00:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-01-02"}, "to"),
        ({"from": "2026-01-01", "to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01", "to": "0001-02-01"}, "from"),
        ({"from": "2026-01-01T25:00"}, "from"),
        ({"service": "abc"}, "service"),
        ({"service": "999999"}, "service"),
    ],
)
def test_a_bad_period_or_service_is_refused_naming_the_parameter(
    db: None, params: dict[str, str], field: str
) -> None:
    with pytest.raises(DomainError) as refused:
        metrics.parse_period(params)
    assert refused.value.field == field


def test_a_naive_datetime_is_utc_and_a_date_as_the_end_includes_its_day(db: None) -> None:
    period = metrics.parse_period({"from": "2026-05-01T10:00", "to": "2026-05-31"})
    assert period.start == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert period.end == datetime(2026, 6, 1, tzinfo=UTC)
    offset = metrics.parse_period({"from": "2026-05-01T10:00:00+02:00"})
    assert offset.start == datetime(2026, 5, 1, 8, tzinfo=UTC)


def test_the_default_period_is_the_last_twelve_calendar_months(db: None) -> None:
    period = metrics.parse_period({}, now=NOW)
    assert (period.start, period.end) == (
        datetime(2025, 7, 1, tzinfo=UTC),
        datetime(2026, 7, 1, tzinfo=UTC),
    )
