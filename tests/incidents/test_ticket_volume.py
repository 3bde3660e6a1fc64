"""The linked-ticket volume escalation: an incident counts toward an MI however it is linked —
by hand (``link_incident``), as a child (what the monitoring webhooks make of an alert on an open
MI's CI), or by CI (logged since the declaration on the MI's affected CI or on a CI depending on
it) — once, in the last hour, against factor (5) × the CI's normal hourly rate (floored at 1/h).
Frozen clock throughout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from incidents import services
from incidents.models import (
    ConfigurationItem,
    EscalationFiring,
    EscalationTrigger,
    Incident,
    MajorIncident,
    TimelineKind,
)
from tests.incidents.mi_fixtures import T0, declare

pytestmark = pytest.mark.django_db

M = timedelta(minutes=1)


def _volume_firings(mi: MajorIncident) -> list[str]:
    rows = EscalationFiring.objects.filter(
        major_incident=mi, step__policy__trigger=EscalationTrigger.TICKET_VOLUME
    ).order_by("step__order")
    return [f.step.target_label for f in rows]


def _run(at: Any) -> list[EscalationFiring]:
    return services.evaluate_escalations(now=at)


def _log(count: int, at: Any, **fields: Any) -> list[Incident]:
    """``count`` low-priority incidents logged at ``at`` (no rule declares them)."""
    with freeze_time(at):
        return [
            services.create_incident(
                actor=None, short_description=f"Cannot pay ({n})", impact=3, urgency=3, **fields
            )
            for n in range(count)
        ]


@pytest.fixture
def checkout(make_ci: Any) -> ConfigurationItem:
    return make_ci("checkout", users=10)


@pytest.fixture
def mi(checkout: ConfigurationItem, alice: Any, make_incident: Any) -> MajorIncident:
    with freeze_time(T0):
        return declare(make_incident(impact=1, urgency=1, affected_ci=checkout), alice)


def test_incidents_linked_by_hand_count(mi: MajorIncident, alice: Any) -> None:
    loose = _log(6, T0 + 10 * M)
    with freeze_time(T0 + 20 * M):
        for incident in loose:
            services.link_incident(incident=incident, parent=mi.incident, actor=alice)
    assert [f.step.target_label for f in _run(T0 + 30 * M)] == ["Incident commander"]


def test_incidents_on_the_mis_ci_since_the_declaration_count(
    mi: MajorIncident, checkout: ConfigurationItem
) -> None:
    _log(6, T0 + 10 * M, affected_ci=checkout)
    _run(T0 + 30 * M)
    assert _volume_firings(mi) == ["Incident commander"]
    row = mi.incident.timeline.get(kind=TimelineKind.ESCALATED)
    assert "6 linked tickets in the last hour" in row.message


def test_incidents_on_a_ci_depending_on_it_count_transitively(
    mi: MajorIncident, checkout: ConfigurationItem, make_ci: Any
) -> None:
    web = make_ci("web-shop", depends_on=(checkout,))
    mobile = make_ci("mobile-app", depends_on=(web,))
    _log(3, T0 + 10 * M, affected_ci=web)
    _log(3, T0 + 10 * M, affected_ci=mobile)
    _run(T0 + 30 * M)
    assert _volume_firings(mi) == ["Incident commander"]


def test_a_ci_the_mis_ci_depends_on_and_an_unrelated_one_do_not_count(
    mi: MajorIncident, checkout: ConfigurationItem, make_ci: Any
) -> None:
    database = make_ci("payments-db")
    services.set_dependencies(ci=checkout, providers=[database])
    _log(4, T0 + 10 * M, affected_ci=database)  # upstream: not reached by checkout's outage
    _log(4, T0 + 10 * M, affected_ci=make_ci("intranet"))
    _log(5, T0 + 10 * M, affected_ci=checkout)
    assert _run(T0 + 30 * M) == []


def test_incidents_on_the_ci_before_the_declaration_do_not_count(
    checkout: ConfigurationItem, alice: Any, make_incident: Any
) -> None:
    _log(8, T0 - 20 * M, affected_ci=checkout)  # in the hour, but before the MI existed
    with freeze_time(T0):
        mi = declare(make_incident(impact=1, urgency=1, affected_ci=checkout), alice)
    assert _run(T0 + 30 * M) == []
    assert _volume_firings(mi) == []


def test_an_incident_linked_both_ways_counts_once(
    mi: MajorIncident, checkout: ConfigurationItem
) -> None:
    # Three children on the CI (both a child and on the CI) and two others on the CI: five,
    # not eight, which is not over 5 × 1/h.
    _log(3, T0 + 10 * M, affected_ci=checkout, parent=mi.incident)
    _log(2, T0 + 10 * M, affected_ci=checkout)
    assert _run(T0 + 30 * M) == []
    _log(1, T0 + 31 * M, parent=mi.incident)
    _run(T0 + 32 * M)
    row = mi.incident.timeline.get(kind=TimelineKind.ESCALATED)
    assert "6 linked tickets in the last hour" in row.message


def test_five_times_normal_escalates_each_step_once_with_the_count(
    mi: MajorIncident, checkout: ConfigurationItem
) -> None:
    _log(4, T0 + 5 * M, affected_ci=checkout)
    _log(2, T0 + 6 * M, parent=mi.incident)
    assert [f.step.target_label for f in _run(T0 + 10 * M)] == ["Incident commander"]
    assert _run(T0 + 11 * M) == []
    assert _run(T0 + 39 * M) == []  # Support VP 30 min after the first firing
    _log(1, T0 + 39 * M, affected_ci=checkout)
    assert [f.step.target_label for f in _run(T0 + 40 * M)] == ["Support VP"]
    assert [f.step.target_label for f in _run(T0 + 70 * M)] == ["CSO"]
    assert _run(T0 + 90 * M) == []
    assert _volume_firings(mi) == ["Incident commander", "Support VP", "CSO"]
    rows = list(mi.incident.timeline.filter(kind=TimelineKind.ESCALATED).order_by("id"))
    assert [r.data["target"] for r in rows] == ["Incident commander", "Support VP", "CSO"]
    assert "6 linked tickets in the last hour, over 5 × normal" in rows[0].message
    assert "7 linked tickets in the last hour" in rows[1].message
    # At 70 min only the ticket logged at 39 min is inside the hour.
    assert "1 linked tickets in the last hour" in rows[2].message


def test_at_five_times_normal_it_does_not_escalate(
    mi: MajorIncident, checkout: ConfigurationItem
) -> None:
    _log(3, T0 + 5 * M, affected_ci=checkout)
    _log(2, T0 + 6 * M, parent=mi.incident)
    assert _run(T0 + 10 * M) == []
    assert _volume_firings(mi) == []


def test_the_count_costs_one_query_for_all_open_mis(
    alice: Any, make_ci: Any, make_incident: Any
) -> None:
    def sweep() -> int:
        with CaptureQueriesContext(connection) as queries:
            _run(T0 + 30 * M)
        return len(queries)

    def more_mis(n: int) -> None:
        for _ in range(n):
            ci = make_ci()
            make_ci(depends_on=(ci,))
            with freeze_time(T0):
                mi = declare(make_incident(impact=1, urgency=1, affected_ci=ci), alice)
            _log(1, T0 + 5 * M, affected_ci=ci)
            _log(1, T0 + 5 * M, parent=mi.incident)

    more_mis(2)
    _run(T0 + 29 * M)  # warm the property cache
    few = sweep()
    more_mis(10)
    _run(T0 + 29 * M)
    assert sweep() == few
