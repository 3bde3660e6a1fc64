"""Escalation policies: each due step fires once, on time, recorded and announced."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from incidents import events, services
from incidents.models import (
    EscalationFiring,
    EscalationPolicy,
    EscalationTrigger,
    Incident,
    IncidentState,
    MajorIncident,
    MIStatus,
    TimelineKind,
)
from tests.incidents.mi_fixtures import T0, declare, force_status

H = timedelta(hours=1)
M = timedelta(minutes=1)


def _run(now: Any) -> list[EscalationFiring]:
    return services.evaluate_escalations(now=now)


def _labels(firings: list[EscalationFiring]) -> list[str]:
    return [f.step.target_label for f in firings]


def _fired(mi: MajorIncident, trigger: str | None = None) -> list[str]:
    rows = EscalationFiring.objects.filter(major_incident=mi).select_related("step__policy")
    if trigger:
        rows = rows.filter(step__policy__trigger=trigger)
    return [f.step.target_label for f in rows.order_by("step__policy__name", "step__order")]


@pytest.fixture
def mi0(p1: Any, alice: Any) -> MajorIncident:
    """An MI declared at T0."""
    with freeze_time(T0):
        return declare(p1, alice)


def test_the_seeded_paths_of_design(db):
    steps = {
        p.trigger: [(s.order, s.delay_minutes, s.target_label) for s in p.steps.all()]
        for p in EscalationPolicy.objects.prefetch_related("steps")
    }
    assert steps[EscalationTrigger.OPEN_TOO_LONG] == [
        (1, 0, "Incident commander"), (2, 30, "Engineering VP"), (3, 60, "CTO"),
    ]  # fmt: skip
    assert [label for *_, label in steps[EscalationTrigger.TICKET_VOLUME]] == [
        "Incident commander", "Support VP", "CSO",
    ]  # fmt: skip
    assert [label for *_, label in steps[EscalationTrigger.MEDIA_ATTENTION]] == [
        "Communications lead", "PR", "CEO",
    ]  # fmt: skip
    assert {delay for _, delay, _ in steps[EscalationTrigger.SECURITY]} == {0}


# --- Open too long --------------------------------------------------------------------------------


def test_open_too_long_does_not_fire_at_1_h_59(mi0):
    assert _run(T0 + 2 * H - M) == []
    assert not EscalationFiring.objects.exists()


def test_open_too_long_fires_its_first_step_at_2_h(mi0):
    firings = _run(T0 + 2 * H)
    assert _labels(firings) == ["Incident commander"]
    firing = firings[0]
    assert firing.major_incident == mi0
    assert (firing.triggered_at, firing.fired_at) == (T0 + 2 * H, T0 + 2 * H)
    row = mi0.incident.timeline.get(kind=TimelineKind.ESCALATED)
    assert row.major_incident == mi0
    assert "Incident commander" in row.message and "open longer than 2 h" in row.message
    assert row.data == {"policy": "open_too_long", "step": 1, "target": "Incident commander"}


def test_each_step_fires_once_and_the_later_ones_after_their_delay(mi0):
    for _ in range(3):
        _run(T0 + 2 * H)
    assert _fired(mi0) == ["Incident commander"]
    assert _run(T0 + 2 * H + 29 * M) == []
    for _ in range(3):
        _run(T0 + 2 * H + 30 * M)
    assert _fired(mi0) == ["Incident commander", "Engineering VP"]
    assert _run(T0 + 2 * H + 59 * M) == []
    results = [_run(T0 + 3 * H) for _ in range(3)]
    assert [_labels(r) for r in results] == [["CTO"], [], []]
    assert _fired(mi0) == ["Incident commander", "Engineering VP", "CTO"]
    assert mi0.incident.timeline.filter(kind=TimelineKind.ESCALATED).count() == 3


def test_a_late_run_catches_up_once(mi0):
    """Beat was down for hours: the first run fires every due step, once each."""
    results = [_run(T0 + 10 * H) for _ in range(3)]
    assert [sorted(_labels(r)) for r in results] == [
        ["CTO", "Engineering VP", "Incident commander"], [], [],
    ]  # fmt: skip


def test_the_resolution_hours_property_moves_the_escalation(
    mi0, sam, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.set_property(key="escalation_resolution_hours", value=4, actor=sam)
    assert _run(T0 + 3 * H) == []
    assert _labels(_run(T0 + 4 * H)) == ["Incident commander"]


def test_escalation_triggered_signal_after_commit(mi0, listen, django_capture_on_commit_callbacks):
    escalated = listen(events.escalation_triggered)
    with django_capture_on_commit_callbacks(execute=True):
        [firing] = _run(T0 + 2 * H)
    assert escalated.calls == [
        {
            "major_incident_id": mi0.pk,
            "step_id": firing.step_id,
            "policy_trigger": "open_too_long",
            "target_label": "Incident commander",
            "target_role": "major_incident_manager",
            "target_group_id": None,
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        _run(T0 + 2 * H + M)
    assert len(escalated.calls) == 1


@pytest.mark.parametrize("status", [MIStatus.RESOLVED, MIStatus.CLOSED, MIStatus.CANCELLED])
def test_nothing_fires_on_an_mi_that_is_no_longer_open(mi0, status):
    force_status(mi0, status, media_attention=True, is_security=True)
    assert _run(T0 + 10 * H) == []


def test_a_disabled_policy_does_not_fire(mi0):
    EscalationPolicy.objects.filter(trigger=EscalationTrigger.OPEN_TOO_LONG).update(enabled=False)
    assert _run(T0 + 10 * H) == []


# --- Security -------------------------------------------------------------------------------------


def test_a_security_mi_fires_the_security_steps_at_once(p1, alice):
    with freeze_time(T0):
        mi = declare(p1, alice, is_security=True)
    firings = _run(T0 + M)
    assert sorted(_labels(firings)) == ["Executives", "Legal", "Security team"]
    assert all(f.triggered_at == T0 for f in firings)  # the breach clock starts at declaration
    legal = next(f for f in firings if f.step.target_label == "Legal")
    assert legal.step.target_group.name == "legal"
    row = mi.incident.timeline.filter(kind=TimelineKind.ESCALATED).first()
    assert "breach notification due by" in row.message
    assert _run(T0 + 2 * M) == []


def test_a_security_flag_set_later_still_fires_once(mi0):
    assert _run(T0 + M) == []
    force_status(mi0, MIStatus.INVESTIGATING, is_security=True)
    assert len(_run(T0 + 10 * M)) == 3
    assert _run(T0 + 11 * M) == []


# --- Media attention ------------------------------------------------------------------------------


def test_media_attention_fires_when_the_flag_is_set(mi0):
    assert _run(T0 + 10 * M) == []
    force_status(mi0, MIStatus.DECLARED, media_attention=True)
    assert _labels(_run(T0 + 20 * M)) == ["Communications lead"]
    assert _run(T0 + 34 * M) == []  # PR 15 min after the first firing
    assert _labels(_run(T0 + 35 * M)) == ["PR"]
    assert _labels(_run(T0 + 50 * M)) == ["CEO"]
    assert _run(T0 + 90 * M) == []
    assert _fired(mi0, EscalationTrigger.MEDIA_ATTENTION) == ["Communications lead", "PR", "CEO"]


# --- Linked-ticket volume -------------------------------------------------------------------------


@pytest.fixture
def mi_on_ci(make_ci: Any, alice: Any, make_incident: Any) -> MajorIncident:
    ci = make_ci("checkout", users=10)
    with freeze_time(T0):
        incident = make_incident(impact=1, urgency=1, affected_ci=ci)
        return declare(incident, alice)


def _children(mi: MajorIncident, count: int, at: Any) -> None:
    with freeze_time(at):
        for n in range(count):
            services.create_incident(actor=None, short_description=f"Cannot pay ({n})",
                                     parent=mi.incident)  # fmt: skip


def test_many_child_incidents_in_the_last_hour_fire(mi_on_ci):
    _children(mi_on_ci, 6, T0 + 30 * M)  # over 5 × the floor of one an hour
    firings = _run(T0 + 40 * M)
    assert _labels(firings) == ["Incident commander"]
    assert firings[0].step.policy.trigger == EscalationTrigger.TICKET_VOLUME
    row = mi_on_ci.incident.timeline.get(kind=TimelineKind.ESCALATED)
    assert "6 linked tickets in the last hour" in row.message
    assert _run(T0 + 41 * M) == []
    assert _labels(_run(T0 + 70 * M)) == ["Support VP"]  # 30 min after the first firing


def test_few_child_incidents_do_not_fire(mi_on_ci):
    _children(mi_on_ci, 5, T0 + 30 * M)
    assert _run(T0 + 40 * M) == []


def test_child_incidents_older_than_an_hour_do_not_count(mi_on_ci):
    _children(mi_on_ci, 8, T0 + 5 * M)
    assert _run(T0 + 66 * M) == []


def test_the_normal_rate_of_the_service_raises_the_bar(mi_on_ci):
    # Four weeks of 2 incidents an hour on the CI before the MI: normal is 2/h, the bar 10.
    ci = mi_on_ci.incident.affected_ci
    Incident.objects.bulk_create(
        Incident(short_description=f"Blip {n}", affected_ci=ci, state=IncidentState.CLOSED,
                 created_at=T0 - timedelta(days=28) + n * timedelta(minutes=30))
        for n in range(28 * 24 * 2)
    )  # fmt: skip
    _children(mi_on_ci, 8, T0 + 30 * M)
    assert _run(T0 + 40 * M) == []
    _children(mi_on_ci, 3, T0 + 35 * M)
    assert _labels(_run(T0 + 40 * M)) == ["Incident commander"]


def test_no_ticket_volume_escalation_on_a_closed_mi(mi_on_ci):
    _children(mi_on_ci, 10, T0 + 30 * M)
    force_status(mi_on_ci, MIStatus.CLOSED)
    assert _run(T0 + 40 * M) == []


def test_the_task_fires_and_counts(mi0):
    from incidents import tasks

    with freeze_time(T0 + 3 * H):
        assert tasks.evaluate_escalations() == 3
        assert tasks.evaluate_escalations() == 0


# --- Cost -----------------------------------------------------------------------------------------


def _open_mis(count: int, alice: Any, make_ci: Any) -> None:
    """``count`` more open MIs declared at T0, every relation the sweep reads filled in: media
    attention (its first step fires at once, so each MI has a firing), a security flag, an
    affected CI with history and a linked child on every other one."""
    with freeze_time(T0 - 2 * H):
        for n in range(count):
            ci = make_ci(f"svc-{MajorIncident.objects.count()}-{n}", users=10) if n % 2 else None
            if ci is not None:
                services.create_incident(actor=None, short_description="before", affected_ci=ci)
            incident = services.create_incident(
                actor=None, short_description=f"down {n}", impact=1, urgency=1, affected_ci=ci
            )
            mi = declare(incident, alice, is_security=n % 3 == 0)
            services.update_major_incident(mi=mi, actor=alice, media_attention=True)
            if n % 2 == 0:
                services.create_incident(actor=None, short_description="me too", parent=incident)
    _run(T0 - 2 * H + M)  # the first step of each path that is due at once


def test_the_sweep_costs_the_same_for_2_and_20_open_mis(alice, make_ci):
    """No per-MI query: the firings of all open MIs, and the ticket counts, come in one go."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for total in (2, 20):
        _open_mis(total - MajorIncident.objects.count(), alice, make_ci)
        assert MajorIncident.objects.count() == total
        _run(T0 - 2 * H + 2 * M)  # warm the property cache
        with CaptureQueriesContext(connection) as queries:
            assert _run(T0 - 2 * H + 3 * M) == []  # nothing new due: reading costs only
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert EscalationFiring.objects.filter(step__policy__trigger="media_attention").count() == 20
