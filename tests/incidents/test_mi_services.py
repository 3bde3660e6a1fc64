"""Major-incident services: declaration, the guarded lifecycle, milestones and RACI roles."""

from __future__ import annotations

from datetime import timedelta
from itertools import product
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from freezegun import freeze_time

from incidents import events, selectors, services
from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import (
    IncidentState,
    MajorIncident,
    MIStatus,
    Problem,
    RaciRole,
    RoleAssignment,
    RoleRoster,
    TimelineKind,
)
from incidents.selectors import MI_MOVES, current_commander, raci_holders
from tests.incidents.mi_fixtures import IC, T0, declare, force_status, fresh

R = RaciRole


def _set_property(capture: Any, key: str, value: Any, actor: Any) -> None:
    # The cache is dropped after commit: run the on-commit callbacks as a real commit would.
    with capture(execute=True):
        services.set_property(key=key, value=value, actor=actor)


def _transition(mi: MajorIncident, to: str, actor: Any, **kw: Any) -> MajorIncident:
    return services.transition_major_incident(mi=mi, to=to, actor=actor, **kw)


def _roles(mi: MajorIncident) -> set[tuple[str, str]]:
    return {(r.role, r.user.username) for r in selectors.active_roles(mi)}


# --- Declaration ----------------------------------------------------------------------------------


def test_declaration_raises_priority_to_p1_and_records_it(make_incident, alice):
    incident = make_incident(impact=3, urgency=3)
    assert incident.priority == 5
    mi = declare(incident, alice)
    incident.refresh_from_db()
    assert (incident.priority, incident.priority_is_manual) == (1, True)
    row = incident.timeline.get(kind=TimelineKind.PRIORITY_CHANGED)
    assert row.data == {"from": 5, "to": 1, "manual": True}
    assert row.major_incident == mi
    assert row.actor == alice
    assert mi.number in incident.timeline.get(kind=TimelineKind.DECLARED).message


def test_declaring_a_p1_writes_no_priority_row(p1, alice):
    declare(p1, alice)
    assert not p1.timeline.filter(kind=TimelineKind.PRIORITY_CHANGED).exists()


def test_declaration_assigns_the_incident_commander(p1, alice, person):
    bob = person("usr_bob_tech", "technician")
    mi = declare(p1, bob, actor=alice)
    assert mi.status == MIStatus.DECLARED
    assert mi.declared_by == alice
    assert current_commander(mi) == bob
    assert _roles(mi) == {(IC, "usr_bob_tech")}
    assert mi.number.startswith("MI") and len(mi.number) == 9


def test_declaration_assigns_the_roster_roles_but_never_the_ic_as_technical_lead(p1, alice, person):
    cara, dan = person("usr_cara_comms"), person("usr_dan_scribe")
    gone = person("usr_gone")
    gone.is_active = False
    gone.save()
    RoleRoster.objects.create(role=R.TECHNICAL_LEAD, user=alice)  # alice will be the IC
    RoleRoster.objects.create(role=R.COMMUNICATIONS_LEAD, user=cara)
    RoleRoster.objects.create(role=R.SCRIBE, user=dan)
    RoleRoster.objects.create(role=R.SUPPORT_LEAD, user=gone)  # inactive: skipped
    RoleRoster.objects.create(role=IC, user=dan)  # a given IC wins over the roster's
    mi = declare(p1, alice)
    assert _roles(mi) == {
        (IC, "usr_alice_johnson"),
        (R.COMMUNICATIONS_LEAD, "usr_cara_comms"),
        (R.SCRIBE, "usr_dan_scribe"),
    }
    assert p1.timeline.filter(kind=TimelineKind.ROLE_ASSIGNED).count() == 3


def test_declaration_with_the_roster_technical_lead_as_someone_else(p1, alice, person):
    tl = person("usr_tl")
    RoleRoster.objects.create(role=R.TECHNICAL_LEAD, user=tl)
    mi = declare(p1, alice)
    assert (R.TECHNICAL_LEAD, "usr_tl") in _roles(mi)


def test_declaration_creates_and_links_a_problem(p1, alice):
    before = Problem.objects.count()
    mi = declare(p1, alice)
    p1.refresh_from_db()
    assert Problem.objects.count() == before + 1
    assert mi.problem is not None
    assert p1.problem == mi.problem
    assert p1.number in mi.problem.short_description


def test_declaration_reuses_the_incidents_problem(make_incident, alice):
    problem = Problem.objects.create(short_description="Known flaky gateway")
    incident = make_incident(impact=1, urgency=1, problem=problem)
    mi = declare(incident, alice)
    assert mi.problem == problem
    assert Problem.objects.count() == 1


def test_declaration_stamps_the_milestones_and_the_first_update_due(make_incident, alice):
    with freeze_time(T0 - timedelta(minutes=20)):
        incident = make_incident(impact=1, urgency=1, impact_started_at=T0 - timedelta(minutes=25))
    with freeze_time(T0):
        mi = declare(incident, alice)
    assert mi.declared_at == T0
    assert mi.war_room_opened_at == T0
    assert mi.impact_started_at == T0 - timedelta(minutes=25)
    assert mi.detected_at is not None
    assert mi.impact_started_at <= mi.detected_at <= mi.declared_at
    assert mi.next_update_due_at == T0 + timedelta(minutes=30)
    assert mi.resolved_at is None and mi.closed_at is None


def test_the_first_update_follows_the_cadence_property(
    p1, alice, sam, django_capture_on_commit_callbacks
):
    _set_property(
        django_capture_on_commit_callbacks, "major_incident_update_cadence_minutes", 45, sam
    )
    with freeze_time(T0):
        mi = declare(p1, alice)
    assert mi.next_update_due_at == T0 + timedelta(minutes=45)


def test_a_second_declaration_is_a_conflict_naming_the_mi(p1, alice, sam):
    mi = declare(p1, alice)
    with pytest.raises(Conflict) as caught:
        declare(p1, sam)
    assert mi.number in str(caught.value)
    assert p1.number in str(caught.value)
    assert MajorIncident.objects.count() == 1


@pytest.mark.parametrize("who", ["tina", "oscar", "lee"])
def test_only_itsm_managers_and_admins_may_declare(p1, alice, who, request):
    actor = request.getfixturevalue(who)
    with pytest.raises(NotAllowed):
        declare(p1, alice, actor=actor)
    assert not MajorIncident.objects.exists()
    assert not Problem.objects.exists()


def test_super_admin_may_declare(p1, sam, alice):
    assert declare(p1, alice, actor=sam).declared_by == sam


def test_declaration_needs_an_impact_statement(p1, alice):
    with pytest.raises(DomainError) as caught:
        declare(p1, alice, initial_impact_statement="   ")
    assert caught.value.field == "initial_impact_statement"


def test_declaration_refuses_an_inactive_commander(p1, alice, person):
    gone = person("usr_gone")
    gone.is_active = False
    gone.save()
    with pytest.raises(DomainError) as caught:
        declare(p1, gone, actor=alice)
    assert caught.value.field == "major_incident_manager"


def test_a_resolved_incident_cannot_be_declared(p1, alice):
    services.resolve_incident(incident=p1, actor=alice, resolution_notes="Fixed")
    with pytest.raises(DomainError) as caught:
        declare(p1, alice)
    assert caught.value.field == "incident_id"
    assert not MajorIncident.objects.exists()


def test_security_declaration_marks_the_incident(p1, alice):
    mi = declare(p1, alice, is_security=True)
    p1.refresh_from_db()
    assert mi.is_security and p1.is_security


def test_declared_signal_is_sent_only_after_commit(
    p1, alice, listen, django_capture_on_commit_callbacks
):
    declared = listen(events.major_incident_declared)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        mi = declare(p1, alice)
        assert declared.calls == []  # still inside the transaction
    assert callbacks
    assert declared.calls == [{"major_incident_id": mi.pk, "actor_id": alice.pk}]


def test_declared_signal_is_not_sent_when_the_transaction_rolls_back(
    p1, alice, listen, django_capture_on_commit_callbacks
):
    declared = listen(events.major_incident_declared)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        declare(p1, alice)
        raise RuntimeError("the caller fails after declaring")
    assert declared.calls == []
    assert not MajorIncident.objects.exists()


# --- Lifecycle ------------------------------------------------------------------------------------

S = MIStatus
ALL_PAIRS = [(a, b) for a, b in product(S.values, S.values) if a != b]


def _ready_for(mi: MajorIncident, source: str) -> MajorIncident:
    """``mi`` in ``source``, with every guard but the move table satisfied."""
    return force_status(
        mi,
        source,
        monitoring_started_at=T0 - timedelta(hours=1),
        pir_published_at=T0 - timedelta(minutes=5),
    )


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS)
def test_every_move_of_the_table_is_allowed_and_every_other_refused(mi, alice, source, target):
    mi = _ready_for(mi, source)
    with freeze_time(T0):
        if target in MI_MOVES[source]:
            moved = _transition(mi, target, alice, reason="Because the test says so")
            assert moved.status == target
            mi.refresh_from_db()
            assert mi.status == target
            row = mi.incident.timeline.filter(kind=TimelineKind.MI_STATUS_CHANGED).get()
            assert row.data["from"] == source and row.data["to"] == target
        else:
            with pytest.raises(DomainError) as caught:
                _transition(mi, target, alice, reason="Because the test says so")
            assert not isinstance(caught.value, NotAllowed)
            assert f"from {source} to {target}" in str(caught.value)
            mi.refresh_from_db()
            assert mi.status == source
            assert not mi.incident.timeline.filter(kind=TimelineKind.MI_STATUS_CHANGED).exists()


def test_the_move_table_is_the_lifecycle_of_design():
    assert MI_MOVES[S.CLOSED] == set() and MI_MOVES[S.CANCELLED] == set()
    assert S.RESOLVED not in MI_MOVES[S.DECLARED]  # resolving needs monitoring first
    assert S.RESOLVED not in MI_MOVES[S.INVESTIGATING] | MI_MOVES[S.IDENTIFIED]
    assert S.CLOSED in MI_MOVES[S.RESOLVED] and S.CANCELLED not in MI_MOVES[S.RESOLVED]
    assert S.INVESTIGATING in MI_MOVES[S.MONITORING]  # regression
    for status in (S.DECLARED, S.INVESTIGATING, S.IDENTIFIED, S.MONITORING):
        assert S.CANCELLED in MI_MOVES[status]


def test_moving_to_the_current_status_changes_nothing(mi, alice):
    assert _transition(mi, S.DECLARED, alice).status == S.DECLARED
    assert not mi.incident.timeline.filter(kind=TimelineKind.MI_STATUS_CHANGED).exists()


def test_an_unknown_status_is_refused(mi, alice):
    with pytest.raises(DomainError) as caught:
        _transition(mi, "fixed", alice)
    assert caught.value.field == "to"


def test_an_outsider_may_not_move_an_mi(mi, tina):
    with pytest.raises(NotAllowed):
        _transition(mi, S.INVESTIGATING, tina)


def test_a_technician_commander_may_run_the_lifecycle(p1, alice, person):
    ic = person("usr_ic_tech", "technician")
    mi = declare(p1, ic, actor=alice)
    assert _transition(mi, S.INVESTIGATING, fresh(ic)).status == S.INVESTIGATING


def _to_monitoring_at(mi: MajorIncident, actor: Any, when: Any) -> MajorIncident:
    with freeze_time(when):
        return _transition(mi, S.MONITORING, actor)


def test_resolving_waits_for_the_stability_period(mi, alice):
    _to_monitoring_at(mi, alice, T0)
    with freeze_time(T0 + timedelta(minutes=14, seconds=59)):
        with pytest.raises(DomainError) as caught:
            _transition(mi, S.RESOLVED, alice)
        assert caught.value.field == "to"
        assert "14 min" in str(caught.value) and "15 min" in str(caught.value)
    mi.refresh_from_db()
    assert mi.status == S.MONITORING
    with freeze_time(T0 + timedelta(minutes=15)):
        resolved = _transition(mi, S.RESOLVED, alice)
    assert resolved.status == S.RESOLVED
    assert resolved.resolved_at == T0 + timedelta(minutes=15)
    assert resolved.next_update_due_at is None


def test_the_stability_period_follows_its_property(
    mi, alice, sam, django_capture_on_commit_callbacks
):
    _set_property(django_capture_on_commit_callbacks, "resolution_stability_minutes", 5, sam)
    _to_monitoring_at(mi, alice, T0)
    with freeze_time(T0 + timedelta(minutes=5)):
        assert _transition(mi, S.RESOLVED, alice).status == S.RESOLVED


def test_the_commander_may_override_the_stability_period_with_a_reason(mi, alice):
    _to_monitoring_at(mi, alice, T0)
    with freeze_time(T0 + timedelta(minutes=3)):
        resolved = _transition(
            mi, S.RESOLVED, alice, override_stability=True, reason="Root cause removed for good"
        )
    assert resolved.status == S.RESOLVED
    row = mi.incident.timeline.filter(
        kind=TimelineKind.MI_STATUS_CHANGED, data__to="resolved"
    ).get()
    assert row.data["override_stability"] is True
    assert "overridden after 3 min" in row.message
    assert "Root cause removed for good" in row.message


def test_only_the_commander_may_override_the_stability_period(mi, alice, sam):
    _to_monitoring_at(mi, alice, T0)
    with freeze_time(T0 + timedelta(minutes=3)), pytest.raises(NotAllowed):
        _transition(mi, S.RESOLVED, sam, override_stability=True, reason="I am the admin")
    mi.refresh_from_db()
    assert mi.status == S.MONITORING


def test_overriding_the_stability_period_needs_a_written_reason(mi, alice):
    _to_monitoring_at(mi, alice, T0)
    with freeze_time(T0 + timedelta(minutes=3)), pytest.raises(DomainError) as caught:
        _transition(mi, S.RESOLVED, alice, override_stability=True, reason="  ")
    assert not isinstance(caught.value, NotAllowed)
    assert caught.value.field == "reason"


def test_a_regression_is_recorded_and_restarts_the_stability_clock(mi, alice):
    _to_monitoring_at(mi, alice, T0)
    with freeze_time(T0 + timedelta(minutes=10)):
        _transition(mi, S.INVESTIGATING, alice, reason="Errors are back")
    row = mi.incident.timeline.filter(
        kind=TimelineKind.MI_STATUS_CHANGED, data__to="investigating"
    ).get()
    assert row.message.startswith("Regression: ")
    assert "Errors are back" in row.message
    _to_monitoring_at(mi, alice, T0 + timedelta(minutes=20))
    with freeze_time(T0 + timedelta(minutes=30)), pytest.raises(DomainError):
        _transition(mi, S.RESOLVED, alice)  # 10 min into the second monitoring period
    with freeze_time(T0 + timedelta(minutes=35)):
        assert _transition(mi, S.RESOLVED, alice).status == S.RESOLVED


def test_other_moves_are_not_called_regressions(mi, alice):
    _transition(mi, S.INVESTIGATING, alice)
    row = mi.incident.timeline.get(kind=TimelineKind.MI_STATUS_CHANGED)
    assert not row.message.startswith("Regression")


def test_closing_needs_the_published_review(mi, alice):
    force_status(mi, S.RESOLVED, resolved_at=T0)
    with freeze_time(T0 + timedelta(days=3)):
        with pytest.raises(DomainError) as caught:
            _transition(mi, S.CLOSED, alice)
        assert "post-incident review" in str(caught.value)
        force_status(mi, S.RESOLVED, pir_published_at=T0 + timedelta(days=2))
        closed = _transition(mi, S.CLOSED, alice)
    assert closed.status == S.CLOSED
    assert closed.closed_at == T0 + timedelta(days=3)


def test_cancelling_needs_a_reason(mi, alice):
    with pytest.raises(DomainError) as caught:
        _transition(mi, S.CANCELLED, alice, reason="")
    assert caught.value.field == "reason"
    mi.refresh_from_db()
    assert mi.status == S.DECLARED


def test_cancelling_needs_the_declare_permission_even_for_the_commander(p1, alice, person):
    ic = person("usr_ic_tech", "technician")
    mi = declare(p1, ic, actor=alice)
    with pytest.raises(NotAllowed):
        _transition(mi, S.CANCELLED, fresh(ic), reason="Declared in error")
    cancelled = _transition(mi, S.CANCELLED, alice, reason="Declared in error")
    assert cancelled.status == S.CANCELLED
    assert cancelled.cancel_reason == "Declared in error"
    assert cancelled.next_update_due_at is None


def test_entering_a_state_stamps_its_milestone(mi, alice):
    with freeze_time(T0):
        mi = _transition(mi, S.IDENTIFIED, alice)
    assert mi.root_cause_identified_at == T0
    with freeze_time(T0 + timedelta(minutes=10)):
        mi = _transition(mi, S.MONITORING, alice)
    assert mi.monitoring_started_at == T0 + timedelta(minutes=10)
    assert mi.mitigated_at == T0 + timedelta(minutes=10)
    with freeze_time(T0 + timedelta(minutes=30)):
        mi = _transition(mi, S.RESOLVED, alice)
    assert mi.resolved_at == T0 + timedelta(minutes=30)
    force_status(mi, S.RESOLVED, pir_published_at=T0 + timedelta(hours=1))
    with freeze_time(T0 + timedelta(hours=2)):
        mi = _transition(mi, S.CLOSED, alice)
    assert mi.closed_at == T0 + timedelta(hours=2)
    mi.refresh_from_db()
    assert (mi.root_cause_identified_at, mi.resolved_at, mi.closed_at) == (
        T0,
        T0 + timedelta(minutes=30),
        T0 + timedelta(hours=2),
    )


def test_resolving_the_mi_resolves_its_incident_and_open_children(mi, alice, make_incident):
    open_child = make_incident(short_description="Checkout 503 in EU")
    done_child = make_incident(short_description="Checkout 503 in US")
    for child in (open_child, done_child):
        services.link_incident(incident=child, parent=mi.incident, actor=alice)
    services.resolve_incident(incident=done_child, actor=alice, resolution_notes="Duplicate")
    done_child.refresh_from_db()
    earlier = done_child.resolved_at
    _to_monitoring_at(mi, alice, T0)
    with freeze_time(T0 + timedelta(minutes=20)):
        _transition(mi, S.RESOLVED, alice, reason="Gateway rolled back")
    for incident in (mi.incident, open_child, done_child):
        incident.refresh_from_db()
        assert incident.state == IncidentState.RESOLVED
    assert mi.incident.resolved_at == T0 + timedelta(minutes=20)
    assert open_child.resolved_at == T0 + timedelta(minutes=20)
    assert mi.number in open_child.resolution_notes
    assert "Gateway rolled back" in open_child.resolution_notes
    assert done_child.resolved_at == earlier
    assert done_child.resolution_notes == "Duplicate"


def test_state_changed_signal_after_commit(mi, alice, listen, django_capture_on_commit_callbacks):
    changed = listen(events.major_incident_state_changed)
    with django_capture_on_commit_callbacks(execute=True):
        _transition(mi, S.INVESTIGATING, alice)
        assert changed.calls == []
    assert changed.calls == [
        {"major_incident_id": mi.pk, "from_status": "declared", "to_status": "investigating",
         "actor_id": alice.pk}
    ]  # fmt: skip


# --- Milestones -----------------------------------------------------------------------------------


def _set_milestones(mi: MajorIncident, actor: Any, **values: Any) -> MajorIncident:
    return services.set_milestones(mi=mi, actor=actor, values=values)


@pytest.fixture
def mi_at_t0(p1, alice) -> MajorIncident:
    with freeze_time(T0):
        return declare(p1, alice)


def test_milestones_out_of_order_are_refused_naming_the_field(mi_at_t0, alice):
    with freeze_time(T0 + timedelta(minutes=30)):
        _set_milestones(mi_at_t0, alice, impact_started_at=T0 - timedelta(minutes=10))
        with pytest.raises(DomainError) as caught:
            _set_milestones(mi_at_t0, alice, detected_at=T0 - timedelta(minutes=20))
    assert caught.value.field == "detected_at"
    assert "impact_started_at" in str(caught.value)
    mi_at_t0.refresh_from_db()
    assert mi_at_t0.detected_at != T0 - timedelta(minutes=20)


def test_a_milestone_after_the_next_one_names_itself(mi_at_t0, alice):
    with freeze_time(T0 + timedelta(minutes=30)), pytest.raises(DomainError) as caught:
        _set_milestones(mi_at_t0, alice, impact_started_at=T0 + timedelta(minutes=10))
    assert caught.value.field == "impact_started_at"


def test_detected_after_declared_is_refused(mi_at_t0, alice):
    with freeze_time(T0 + timedelta(minutes=30)), pytest.raises(DomainError) as caught:
        _set_milestones(mi_at_t0, alice, detected_at=T0 + timedelta(minutes=1))
    assert caught.value.field == "detected_at"


def test_a_milestone_in_the_future_is_refused(mi_at_t0, alice):
    with freeze_time(T0 + timedelta(minutes=30)), pytest.raises(DomainError) as caught:
        _set_milestones(mi_at_t0, alice, first_stakeholder_update_at=T0 + timedelta(hours=2))
    assert caught.value.field == "first_stakeholder_update_at"
    assert "future" in str(caught.value)


def test_declared_at_cannot_be_cleared_and_unknown_names_are_refused(mi_at_t0, alice):
    with pytest.raises(DomainError) as caught:
        _set_milestones(mi_at_t0, alice, declared_at=None)
    assert caught.value.field == "declared_at"
    with pytest.raises(DomainError) as caught:
        _set_milestones(mi_at_t0, alice, status="resolved")
    assert caught.value.field == "status"


def test_each_milestone_change_writes_a_timeline_row(mi_at_t0, alice):
    first = T0 + timedelta(minutes=5)
    fix = T0 + timedelta(minutes=25)
    with freeze_time(T0 + timedelta(minutes=30)):
        mi = _set_milestones(
            mi_at_t0, alice, first_stakeholder_update_at=first, fix_deployed_at=fix
        )
        assert (mi.first_stakeholder_update_at, mi.fix_deployed_at) == (first, fix)
        rows = mi.incident.timeline.filter(kind=TimelineKind.MILESTONE)
        assert sorted(r.data["milestone"] for r in rows) == [
            "first_stakeholder_update_at",
            "fix_deployed_at",
        ]
        assert all(r.actor == alice and r.major_incident == mi for r in rows)
        # The same values again change nothing and write nothing.
        _set_milestones(mi, alice, first_stakeholder_update_at=first, fix_deployed_at=fix)
        assert mi.incident.timeline.filter(kind=TimelineKind.MILESTONE).count() == 2
    mi.refresh_from_db()
    assert mi.fix_deployed_at == fix


def test_only_managers_and_the_commander_backfill_milestones(mi_at_t0, tina):
    with pytest.raises(NotAllowed):
        _set_milestones(mi_at_t0, tina, fix_deployed_at=T0)


# --- RACI roles -----------------------------------------------------------------------------------


def _assign(mi: MajorIncident, role: str, user: Any, actor: Any) -> RoleAssignment:
    return services.assign_role(mi=mi, role=role, user=user, actor=actor)


def _active_ics(mi: MajorIncident) -> list[RoleAssignment]:
    return list(mi.role_assignments.filter(role=IC, removed_at__isnull=True))


def test_assigning_another_commander_hands_command_over(mi, alice, person):
    bob = person("usr_bob_tech", "technician")
    old = _active_ics(mi)[0]
    new = _assign(mi, IC, bob, alice)
    old.refresh_from_db()
    assert old.removed_at is not None and old.removed_by == alice
    assert _active_ics(mi) == [new]
    assert current_commander(mi) == bob
    row = mi.incident.timeline.get(kind=TimelineKind.ROLE_REMOVED)
    assert "handed over to usr_bob_tech" in row.message


def test_the_database_refuses_a_second_active_commander(mi, person):
    bob = person("usr_bob_tech")
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(major_incident=mi, role=IC, user=bob)
    assert len(_active_ics(mi)) == 1


def test_the_database_refuses_the_same_role_twice_for_one_holder(mi, person):
    bob = person("usr_bob_tech")
    RoleAssignment.objects.create(major_incident=mi, role=R.SCRIBE, user=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignment.objects.create(major_incident=mi, role=R.SCRIBE, user=bob)


def test_assigning_a_held_role_again_changes_nothing(mi, alice, person):
    bob = person("usr_bob_tech")
    first = _assign(mi, R.SCRIBE, bob, alice)
    assert _assign(mi, R.SCRIBE, bob, alice) == first
    assert mi.role_assignments.filter(role=R.SCRIBE).count() == 1


def test_the_commander_may_not_become_technical_lead(mi, alice):
    with pytest.raises(DomainError) as caught:
        _assign(mi, R.TECHNICAL_LEAD, alice, alice)
    assert caught.value.field == "user"
    assert not mi.role_assignments.filter(role=R.TECHNICAL_LEAD).exists()


def test_the_technical_lead_may_not_become_commander(mi, alice, person):
    bob = person("usr_bob_tech")
    _assign(mi, R.TECHNICAL_LEAD, bob, alice)
    with pytest.raises(DomainError) as caught:
        _assign(mi, IC, bob, alice)
    assert caught.value.field == "user"
    assert current_commander(mi) == alice


def test_removing_the_commander_is_refused(mi, alice):
    row = _active_ics(mi)[0]
    with pytest.raises(DomainError) as caught:
        services.remove_role(assignment=row, actor=alice)
    assert caught.value.field == "role"
    assert _active_ics(mi) == [row]


def test_removing_a_role_ends_the_row_and_records_it(mi, alice, person):
    bob = person("usr_bob_tech")
    row = _assign(mi, R.SCRIBE, bob, alice)
    services.remove_role(assignment=row, actor=alice)
    row.refresh_from_db()
    assert row.removed_at is not None and row.removed_by == alice
    assert (R.SCRIBE, "usr_bob_tech") not in _roles(mi)
    assert mi.incident.timeline.filter(kind=TimelineKind.ROLE_REMOVED).count() == 1
    services.remove_role(assignment=row, actor=alice)  # twice: nothing more
    assert mi.incident.timeline.filter(kind=TimelineKind.ROLE_REMOVED).count() == 1


def test_outsiders_may_not_assign_or_remove_roles(mi, alice, tina, person):
    bob = person("usr_bob_tech")
    with pytest.raises(NotAllowed):
        _assign(mi, R.SCRIBE, bob, tina)
    row = _assign(mi, R.SCRIBE, bob, alice)
    with pytest.raises(NotAllowed):
        services.remove_role(assignment=row, actor=tina)


def test_unknown_roles_and_final_mis_are_refused(mi, alice, person):
    bob = person("usr_bob_tech")
    with pytest.raises(DomainError) as caught:
        _assign(mi, "coffee_runner", bob, alice)
    assert caught.value.field == "role"
    force_status(mi, S.CLOSED)
    with pytest.raises(DomainError):
        _assign(mi, R.SCRIBE, bob, alice)


def _perms(user: Any, mi: MajorIncident) -> set[str]:
    user = fresh(user)
    codes = (
        "view_majorincident", "post_timeline_majorincident", "edit_scratchpad_majorincident",
        "manage_majorincident", "send_updates_majorincident",
    )  # fmt: skip
    return {c for c in codes if user.has_perm(f"incidents.{c}", mi)}


TEAM = {"view_majorincident", "post_timeline_majorincident", "edit_scratchpad_majorincident"}


def test_object_permissions_are_granted_with_a_role_and_revoked_with_it(mi, alice, person):
    cara = person("usr_cara_comms")
    other = declare(services.create_incident(actor=None, short_description="Other"), alice)
    assert _perms(cara, mi) == set()
    row = _assign(mi, R.COMMUNICATIONS_LEAD, cara, alice)
    assert _perms(cara, mi) == TEAM | {"send_updates_majorincident"}
    assert _perms(cara, other) == set()  # per MI, not global
    services.remove_role(assignment=row, actor=alice)
    assert _perms(cara, mi) == set()


def test_permissions_stay_while_the_user_holds_another_role(mi, alice, person):
    cara = person("usr_cara_comms")
    _assign(mi, R.SCRIBE, cara, alice)
    comms = _assign(mi, R.COMMUNICATIONS_LEAD, cara, alice)
    services.remove_role(assignment=comms, actor=alice)
    assert _perms(cara, mi) == TEAM


def test_the_commander_holds_manage_and_loses_it_on_handover(p1, alice, person):
    ic, nextic = person("usr_ic_one", "technician"), person("usr_ic_two", "technician")
    mi = declare(p1, ic, actor=alice)
    assert _perms(ic, mi) == TEAM | {"manage_majorincident", "send_updates_majorincident"}
    _assign(mi, IC, nextic, fresh(ic))  # the commander hands over by themself
    assert _perms(ic, mi) == set()
    assert "manage_majorincident" in _perms(nextic, mi)
    with pytest.raises(NotAllowed):
        _transition(mi, S.INVESTIGATING, fresh(ic))


def test_an_executive_sponsor_reads_and_posts_only(mi, alice, person):
    exec_ = person("usr_exec")
    _assign(mi, R.EXECUTIVE_SPONSOR, exec_, alice)
    assert _perms(exec_, mi) == {"view_majorincident", "post_timeline_majorincident"}


def test_raci_holders_follow_the_seeded_matrix(mi, alice, person):
    desk, sponsor, tl, scribe = (
        person("usr_desk"), person("usr_sponsor"), person("usr_tl"), person("usr_scribe"),
    )  # fmt: skip
    _assign(mi, R.SERVICE_DESK, desk, alice)
    _assign(mi, R.EXECUTIVE_SPONSOR, sponsor, alice)
    _assign(mi, R.TECHNICAL_LEAD, tl, alice)
    _assign(mi, R.SCRIBE, scribe, alice)
    # declare: IC A, service desk R, executive sponsor I, technical lead C
    assert raci_holders(mi, "declare") == {"R": [desk], "A": [alice], "C": [tl], "I": [sponsor]}
    # war room: IC A, scribe R, technical lead R, MIT C, communications lead I
    holders = raci_holders(mi, "war_room")
    assert sorted(u.username for u in holders["R"]) == ["usr_scribe", "usr_tl"]
    assert holders["A"] == [alice] and holders["C"] == [] and holders["I"] == []
    assert raci_holders(mi, "no_such_activity") == {"R": [], "A": [], "C": [], "I": []}


def test_raci_holders_drop_removed_holders(mi, alice, person):
    sponsor = person("usr_sponsor")
    row = _assign(mi, R.EXECUTIVE_SPONSOR, sponsor, alice)
    services.remove_role(assignment=row, actor=alice)
    assert raci_holders(mi, "declare")["I"] == []
