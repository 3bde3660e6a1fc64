"""A fixed data set for the KPI tests, with the figures worked out by hand beside it.

Clock: ``NOW`` (2026-06-15 12:00 UTC); period ``[2026-01-01, 2026-07-01)``; services A and B.
Rows are written with the ORM directly (timestamps as given), not through the services: the
KPIs read history, and the history is what is fixed here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from comms.models import StakeholderUpdate
from incidents.models import ConfigurationItem, Incident, MajorIncident, MIStatus
from pir.models import PostIncidentReview, ReviewActionItem

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

# Incidents in the period: i1, i2, i3, i4, i5, i7 (i6 is before it).
# MTTA: i1 600, i2 1200, i3 1800, i5 3600, i7 300 -> 7500 / 5
# MTTD: i1 300, i3 900 -> 1200 / 2
# MTTR: i1 7200, i2 14400, i3 21600, i5 86400, i7 3600 -> 133200 / 5
EXPECTED: dict[str, tuple[float | None, int]] = {
    "mtta": (1500.0, 5),
    "mttd": (600.0, 2),
    "mttr": (26640.0, 5),
    # MIs m1, m2, m3 (m4 cancelled). m1: 12:50 - 09:50; m2 (no impact start): 15:00 - 11:00.
    "mi_mttr": (12600.0, 2),
    # Declared after the incident: m1 1800, m2 3600, m3 900.
    "time_to_declare": (2100.0, 3),
    # First customer update: m1 20 min, m2 45 min.
    "time_to_first_customer_update": (1950.0, 2),
    "first_customer_update_within_target": (50.0, 2),  # 30-minute target: m1 only
    # m1 on time, m1 late (90 s), m2 on time (60 s exactly).
    "cadence_adherence": (66.7, 3),
    # m1 on time, m2 late, m3 past due and unpublished.
    "pirs_on_time": (33.3, 3),
    "overdue_action_items": (2.0, 2),
    "mi_count": (3.0, 3),
    "mi_change_percent": (None, 0),  # June has none, May had none
    # Service A: m1 starts 2026-03-01 09:50, m2 2026-03-10 11:00: 9 days 1 h 10 min.
    "mtbf": (781800.0, 1),
    "repeat_services": (1.0, 2),
}
MONTHLY = [
    ("2026-01-01", 0, None, None),
    ("2026-02-01", 0, None, None),
    ("2026-03-01", 2, None, 12600.0),
    ("2026-04-01", 1, -50.0, None),
    ("2026-05-01", 0, -100.0, None),
    ("2026-06-01", 0, None, None),
]
BY_PRIORITY = {  # priority: (incidents, MTTA, MTTD, MTTR)
    1: (3, 700.0, 300.0, 8400.0),
    2: (1, 1800.0, 900.0, 21600.0),
    3: (2, 3600.0, None, 86400.0),
}


def _incident(
    n: int, created: datetime, ci: ConfigurationItem | None, priority: int, **kw: Any
) -> Incident:
    return Incident.objects.create(
        short_description=f"Incident {n}",
        created_at=created,
        affected_ci=ci,
        priority=priority,
        **kw,
    )


def build() -> dict[str, Any]:
    a = ConfigurationItem.objects.create(name="Service A", kind="business_service")
    b = ConfigurationItem.objects.create(name="Service B", kind="business_service")
    t1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    i1 = _incident(
        1,
        t1,
        a,
        1,
        acknowledged_at=t1 + 10 * M,
        impact_started_at=t1 - 10 * M,
        detected_at=t1 - 5 * M,
        resolved_at=t1 + 2 * H,
    )
    t2 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    i2 = _incident(2, t2, a, 1, acknowledged_at=t2 + 20 * M, resolved_at=t2 + 4 * H)
    t3 = datetime(2026, 4, 5, 8, 0, tzinfo=UTC)
    i3 = _incident(
        3,
        t3,
        b,
        2,
        acknowledged_at=t3 + 30 * M,
        impact_started_at=t3 - 30 * M,
        detected_at=t3 - 15 * M,
        resolved_at=t3 + 6 * H,
    )
    _incident(4, datetime(2026, 5, 1, 12, 0, tzinfo=UTC), b, 3)
    t5 = datetime(2026, 5, 20, tzinfo=UTC)
    _incident(5, t5, None, 3, acknowledged_at=t5 + 60 * M, resolved_at=t5 + D)
    t6 = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    _incident(6, t6, a, 1, acknowledged_at=t6 + 1000 * M, resolved_at=t6 + 2 * D)
    t7 = datetime(2026, 4, 20, 10, 0, tzinfo=UTC)
    i7 = _incident(7, t7, a, 1, acknowledged_at=t7 + 5 * M, resolved_at=t7 + H)

    m1 = MajorIncident.objects.create(
        incident=i1,
        impact_statement="A down",
        status=MIStatus.RESOLVED,
        declared_at=t1 + 30 * M,
        impact_started_at=t1 - 10 * M,
        resolved_at=t1 + 2 * H + 50 * M,
        first_customer_update_at=t1 + 50 * M,
    )
    m2 = MajorIncident.objects.create(
        incident=i2,
        impact_statement="A down again",
        status=MIStatus.RESOLVED,
        declared_at=t2 + H,
        resolved_at=t2 + 5 * H,
        first_customer_update_at=t2 + H + 45 * M,
    )
    m3 = MajorIncident.objects.create(
        incident=i3,
        impact_statement="B slow",
        status=MIStatus.INVESTIGATING,
        declared_at=t3 + 15 * M,
        impact_started_at=t3 - 30 * M,
    )
    m4 = MajorIncident.objects.create(
        incident=i7,
        impact_statement="false alarm",
        status=MIStatus.CANCELLED,
        declared_at=t7 + 10 * M,
        first_customer_update_at=t7 + 11 * M,
    )

    def update(
        mi: MajorIncident, slot: str | None, sent: datetime | None, kind: str = "cadence"
    ) -> None:
        StakeholderUpdate.objects.create(
            major_incident=mi,
            update_type=kind,
            current_impact="x",
            current_action="y",
            user_action="z",
            status="sent" if sent else "draft",
            sent_at=sent,
            slot=slot,
        )

    update(m1, "cadence:2026-03-01T11:00:00+00:00", t1 + H + 30 * timedelta(seconds=1))
    update(m1, "cadence:2026-03-01T11:30:00.250000+00:00", t1 + 91 * M + timedelta(seconds=30))
    update(m2, "cadence:2026-03-10T11:30:00+00:00", t2 + 91 * M)
    update(m2, None, t2 + 2 * H)  # a person's cadence update: no slot, no due time
    update(m2, "cadence:2026-03-10T12:00:00+00:00", None)  # not sent
    update(m4, "cadence:2026-04-20T10:40:00+00:00", t7 + H)  # cancelled MI
    update(m1, "initial", t1 + 31 * M, kind="initial")

    def review(mi: MajorIncident, due: datetime, published: datetime | None) -> PostIncidentReview:
        return PostIncidentReview.objects.create(
            major_incident=mi,
            publish_due_at=due,
            published_at=published,
            status="published" if published else "draft",
        )

    r1 = review(m1, datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    review(m2, datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 3, 25, tzinfo=UTC))
    r3 = review(m3, datetime(2026, 4, 15, tzinfo=UTC), None)
    r4 = review(m4, datetime(2026, 4, 25, tzinfo=UTC), None)
    for r, status, due in (
        (r1, "open", date(2026, 6, 1)),
        (r1, "done", date(2026, 5, 1)),
        (r1, "in_progress", date(2026, 6, 20)),
        (r3, "in_progress", date(2026, 6, 14)),
        (r4, "open", date(2026, 5, 1)),  # cancelled MI
    ):
        ReviewActionItem.objects.create(review=r, title="fix", status=status, due_date=due)
    return {"a": a, "b": b, "mis": [m1, m2, m3, m4]}
