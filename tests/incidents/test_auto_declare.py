"""Auto-declaration rules, with the clock frozen: the on-commit evaluation and the sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from incidents import events, selectors, services, tasks
from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import (
    AutoDeclarationRule,
    AutoDeclareAction,
    CandidateStatus,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    RoleRoster,
    TimelineKind,
)
from incidents.selectors import current_commander
from tests.incidents.mi_fixtures import IC, T0

RULE_UNACK = "P1 unacknowledged"
RULE_USERS = "P1 reaching many users"


@pytest.fixture
def create(
    make_incident: Callable[..., Incident], django_capture_on_commit_callbacks: Any
) -> Callable[..., Incident]:
    """Create an incident and run its after-commit evaluation, as a real commit would."""

    def _create(**fields: Any) -> Incident:
        with django_capture_on_commit_callbacks(execute=True):
            return make_incident(**fields)

    return _create


@pytest.fixture
def set_prop(sam: Any, django_capture_on_commit_callbacks: Any) -> Callable[[str, Any], None]:
    def _set(key: str, value: Any) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.set_property(key=key, value=value, actor=sam)

    return _set


def _sweep(at: Any) -> list[services.Outcome]:
    with freeze_time(at):
        return services.auto_declare_sweep()


def _mi_of(incident: Incident) -> MajorIncident | None:
    return MajorIncident.objects.filter(incident=incident).first()


@pytest.fixture
def unacked_p1(roster_ic: Any, create: Callable[..., Incident]) -> Incident:
    """A P1 logged at T0, nobody acknowledging it, alice on call as IC."""
    with freeze_time(T0):
        return create(impact=1, urgency=1)


def test_the_seeded_rules_read_their_thresholds_from_properties(db):
    rules = {r.name: r for r in AutoDeclarationRule.objects.all()}
    assert rules[RULE_UNACK].unacknowledged_minutes_property == "major_incident_ack_timeout_minutes"
    assert rules[RULE_USERS].min_affected_users_property == "major_incident_auto_declare_threshold"
    assert rules[RULE_UNACK].order < rules[RULE_USERS].order
    assert all(r.enabled and r.max_priority == 1 for r in rules.values())


# --- Rule 1: P1 unacknowledged --------------------------------------------------------------------


def test_p1_unacknowledged_for_14_59_is_not_declared(unacked_p1):
    assert not MajorIncident.objects.exists()  # the on-create evaluation found nothing
    assert _sweep(T0 + timedelta(minutes=14, seconds=59)) == []
    assert _mi_of(unacked_p1) is None
    assert not MajorIncidentCandidate.objects.exists()


def test_p1_unacknowledged_for_15_01_is_declared_by_rule_1(unacked_p1, alice):
    outcomes = _sweep(T0 + timedelta(minutes=15, seconds=1))
    mi = _mi_of(unacked_p1)
    assert mi is not None
    assert outcomes == [services.Outcome(unacked_p1.pk, "declared", mi.number)]
    assert mi.trigger_rule.name == RULE_UNACK
    assert "unacknowledged for 15 min (limit 15)" in mi.trigger_reason
    assert "P1" in mi.trigger_reason
    assert mi.declared_by is None
    assert mi.declared_at == T0 + timedelta(minutes=15, seconds=1)
    assert current_commander(mi) == alice
    row = unacked_p1.timeline.get(kind=TimelineKind.DECLARED)
    assert RULE_UNACK in row.message and row.actor is None
    assert row.data["rule"] == RULE_UNACK


def test_the_celery_task_runs_the_sweep(unacked_p1):
    with freeze_time(T0 + timedelta(minutes=16)):
        assert tasks.auto_declare() == 1
        assert tasks.auto_declare() == 0
    assert _mi_of(unacked_p1).trigger_rule.name == RULE_UNACK


def test_an_acknowledged_p1_is_not_declared(unacked_p1, tina):
    with freeze_time(T0 + timedelta(minutes=5)):
        services.acknowledge_incident(incident=unacked_p1, actor=tina)
    assert _sweep(T0 + timedelta(hours=2)) == []
    assert _mi_of(unacked_p1) is None


def test_acknowledged_after_the_timeout_but_before_the_sweep_is_not_declared(unacked_p1, tina):
    with freeze_time(T0 + timedelta(minutes=20)):
        services.acknowledge_incident(incident=unacked_p1, actor=tina)
    assert _sweep(T0 + timedelta(minutes=21)) == []


def test_the_ack_timeout_property_counts_at_the_next_evaluation(unacked_p1, set_prop):
    set_prop("major_incident_ack_timeout_minutes", 30)
    assert _sweep(T0 + timedelta(minutes=20)) == []
    set_prop("major_incident_ack_timeout_minutes", 10)
    assert len(_sweep(T0 + timedelta(minutes=20))) == 1
    assert "limit 10" in _mi_of(unacked_p1).trigger_reason


def test_a_resolved_p1_is_not_declared(unacked_p1, alice):
    services.resolve_incident(incident=unacked_p1, actor=alice, resolution_notes="Blip")
    assert _sweep(T0 + timedelta(hours=1)) == []


def test_a_p2_unacknowledged_is_not_declared(roster_ic, create):
    with freeze_time(T0):
        p2 = create(impact=1, urgency=2)
    assert p2.priority == 2
    assert _sweep(T0 + timedelta(hours=3)) == []


# --- Rule 2: P1 reaching many users ---------------------------------------------------------------


def test_p2_reaching_500_users_is_not_declared(roster_ic, create, make_ci):
    ci = make_ci("payments", users=500)
    with freeze_time(T0):
        p2 = create(impact=1, urgency=2, affected_ci=ci)
    assert (p2.priority, p2.affected_users) == (2, 500)
    assert _mi_of(p2) is None
    assert _sweep(T0 + timedelta(hours=1)) == []


def test_p1_reaching_51_users_is_declared_at_once_on_create(roster_ic, create, make_ci):
    ci = make_ci("checkout", users=51)
    with freeze_time(T0):
        incident = create(impact=1, urgency=1, affected_ci=ci)
    mi = _mi_of(incident)
    assert mi is not None
    assert mi.trigger_rule.name == RULE_USERS
    assert "51 affected users (more than 50)" in mi.trigger_reason
    assert mi.declared_at == T0  # at once, not at the next sweep


def test_users_reached_through_dependencies_count(roster_ic, create, make_ci):
    db_ci = make_ci("orders-db", kind="database", users=1)
    make_ci("shop", users=30, depends_on=(db_ci,))
    make_ci("backoffice", users=30, depends_on=(db_ci,))
    with freeze_time(T0):
        incident = create(impact=1, urgency=1, affected_ci=db_ci)
    assert incident.affected_users == 61
    assert _mi_of(incident).trigger_rule.name == RULE_USERS


def test_p1_reaching_exactly_50_users_is_not_declared(roster_ic, create, make_ci):
    ci = make_ci("checkout", users=50)
    with freeze_time(T0):
        incident = create(impact=1, urgency=1, affected_ci=ci)
    assert _mi_of(incident) is None
    assert _sweep(T0 + timedelta(minutes=1)) == []


def test_the_threshold_property_counts_at_the_next_evaluation(
    roster_ic, create, make_ci, set_prop, django_capture_on_commit_callbacks, alice
):
    ci = make_ci("checkout", users=45)
    with freeze_time(T0):
        incident = create(impact=1, urgency=1, affected_ci=ci)
    assert _mi_of(incident) is None
    set_prop("major_incident_auto_declare_threshold", 40)
    # The next evaluation: a change of the incident (on commit) ...
    with freeze_time(T0 + timedelta(minutes=1)), django_capture_on_commit_callbacks(execute=True):
        services.update_incident(incident=incident, actor=alice, description="Still down")
    mi = _mi_of(incident)
    assert mi is not None and mi.trigger_rule.name == RULE_USERS
    assert "more than 40" in mi.trigger_reason


def test_the_threshold_property_counts_at_the_next_sweep(roster_ic, create, make_ci, set_prop):
    ci = make_ci("checkout", users=45)
    with freeze_time(T0):
        incident = create(impact=1, urgency=1, affected_ci=ci)
    set_prop("major_incident_auto_declare_threshold", 44)
    assert len(_sweep(T0 + timedelta(minutes=1))) == 1
    assert _mi_of(incident).trigger_rule.name == RULE_USERS


def test_raising_the_priority_to_p1_declares_on_commit(
    roster_ic, create, make_ci, alice, django_capture_on_commit_callbacks
):
    ci = make_ci("checkout", users=200)
    with freeze_time(T0):
        incident = create(impact=1, urgency=2, affected_ci=ci)
    assert _mi_of(incident) is None
    with freeze_time(T0 + timedelta(minutes=2)), django_capture_on_commit_callbacks(execute=True):
        services.update_incident(incident=incident, actor=alice, urgency=1)
    assert _mi_of(incident).trigger_rule.name == RULE_USERS


def test_the_first_matching_rule_wins(roster_ic, make_ci):
    ci = make_ci("checkout", users=100)
    with freeze_time(T0 - timedelta(minutes=20)):
        incident = make_incident_without_evaluation(affected_ci=ci)
    assert _sweep(T0)[0].action == "declared"
    assert _mi_of(incident).trigger_rule.name == RULE_UNACK  # order 10 before order 20


def make_incident_without_evaluation(**fields: Any) -> Incident:
    """An incident whose on-commit evaluation never runs (it is left to the sweep)."""
    return services.create_incident(
        actor=None, short_description="API down", impact=1, urgency=1, **fields
    )


# --- Idempotence ----------------------------------------------------------------------------------


def test_the_sweep_run_three_times_declares_once(
    unacked_p1, listen, django_capture_on_commit_callbacks
):
    declared = listen(events.major_incident_declared)
    at = T0 + timedelta(minutes=16)
    with django_capture_on_commit_callbacks(execute=True):
        results = [_sweep(at), _sweep(at + timedelta(minutes=1)), _sweep(at + timedelta(minutes=2))]
    assert [len(r) for r in results] == [1, 0, 0]
    assert MajorIncident.objects.filter(incident=unacked_p1).count() == 1
    assert unacked_p1.timeline.filter(kind=TimelineKind.DECLARED).count() == 1
    assert len(declared.calls) == 1
    assert declared.calls[0]["actor_id"] is None


def test_evaluating_an_incident_with_an_mi_does_nothing(unacked_p1):
    with freeze_time(T0 + timedelta(minutes=16)):
        first = services.evaluate_incident(unacked_p1.pk)
        second = services.evaluate_incident(unacked_p1.pk)
    assert first.action == "declared"
    assert second.action == ""
    assert MajorIncident.objects.filter(incident=unacked_p1).count() == 1


def test_a_manually_declared_incident_is_left_alone(unacked_p1, alice):
    services.declare_major_incident(
        incident=unacked_p1, manager=alice, actor=alice, initial_impact_statement="Down"
    )
    assert _sweep(T0 + timedelta(hours=1)) == []
    assert MajorIncident.objects.count() == 1


def test_the_sweep_ignores_incidents_that_cannot_match(roster_ic, create):
    with freeze_time(T0):
        p3 = create(impact=2, urgency=2)
    assert p3.pk not in selectors.sweep_candidates()


# --- Propose mode, candidates ---------------------------------------------------------------------


def test_propose_mode_makes_a_candidate_not_an_mi(
    unacked_p1, set_prop, listen, django_capture_on_commit_callbacks
):
    proposed = listen(events.major_incident_proposed)
    set_prop("major_incident_auto_declare_mode", "propose")
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = _sweep(T0 + timedelta(minutes=16))
    assert [o.action for o in outcomes] == ["proposed"]
    assert _mi_of(unacked_p1) is None
    candidate = MajorIncidentCandidate.objects.get(incident=unacked_p1)
    assert candidate.status == CandidateStatus.PENDING
    assert candidate.rule.name == RULE_UNACK
    assert "unacknowledged" in candidate.reason
    assert unacked_p1.timeline.filter(kind=TimelineKind.PROPOSED).count() == 1
    assert proposed.calls == [{"candidate_id": candidate.pk, "incident_id": unacked_p1.pk}]
    assert _sweep(T0 + timedelta(minutes=20)) == []  # proposed once
    assert MajorIncidentCandidate.objects.count() == 1


@pytest.fixture
def candidate(unacked_p1, set_prop) -> MajorIncidentCandidate:
    set_prop("major_incident_auto_declare_mode", "propose")
    _sweep(T0 + timedelta(minutes=16))
    return MajorIncidentCandidate.objects.get(incident=unacked_p1)


def test_accepting_a_candidate_declares_it(candidate, alice, person):
    ic = person("usr_ic_tech", "technician")
    with freeze_time(T0 + timedelta(minutes=30)):
        mi = services.accept_candidate(candidate=candidate, actor=alice, manager=ic)
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.ACCEPTED
    assert candidate.major_incident == mi
    assert candidate.decided_by == alice
    assert candidate.decided_at == T0 + timedelta(minutes=30)
    assert mi.incident == candidate.incident
    assert mi.trigger_rule.name == RULE_UNACK
    assert "accepted by usr_alice_johnson" in mi.trigger_reason
    assert mi.declared_by == alice
    assert current_commander(mi) == ic
    with pytest.raises(Conflict):
        services.accept_candidate(candidate=candidate, actor=alice)


def test_accepting_without_a_manager_makes_the_acceptor_commander(candidate, sam):
    mi = services.accept_candidate(candidate=candidate, actor=sam)
    assert current_commander(mi) == sam


def test_rejecting_a_candidate_means_never_proposed_again(
    candidate, alice, set_prop, django_capture_on_commit_callbacks
):
    with freeze_time(T0 + timedelta(minutes=30)):
        services.reject_candidate(candidate=candidate, actor=alice, reason="Test environment")
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.REJECTED
    assert candidate.decision_reason == "Test environment"
    assert candidate.incident.timeline.filter(kind=TimelineKind.PROPOSAL_REJECTED).count() == 1
    assert _sweep(T0 + timedelta(hours=1)) == []
    # Not in declare mode either, nor on the next change of the incident.
    set_prop("major_incident_auto_declare_mode", "declare")
    with freeze_time(T0 + timedelta(hours=2)), django_capture_on_commit_callbacks(execute=True):
        services.update_incident(incident=candidate.incident, actor=alice, description="more")
    assert _sweep(T0 + timedelta(hours=3)) == []
    assert not MajorIncident.objects.exists()
    assert MajorIncidentCandidate.objects.count() == 1
    with pytest.raises(Conflict):
        services.accept_candidate(candidate=candidate, actor=alice)


def test_rejecting_needs_a_reason_and_the_permission(candidate, alice, tina):
    with pytest.raises(DomainError) as caught:
        services.reject_candidate(candidate=candidate, actor=alice, reason=" ")
    assert caught.value.field == "reason"
    with pytest.raises(NotAllowed):
        services.reject_candidate(candidate=candidate, actor=tina, reason="Not major")
    with pytest.raises(NotAllowed):
        services.accept_candidate(candidate=candidate, actor=tina)
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.PENDING


def test_a_rule_with_action_propose_proposes_in_declare_mode(unacked_p1):
    AutoDeclarationRule.objects.filter(name=RULE_UNACK).update(action=AutoDeclareAction.PROPOSE)
    assert [o.action for o in _sweep(T0 + timedelta(minutes=16))] == ["proposed"]
    assert _mi_of(unacked_p1) is None


def test_mode_off_does_nothing(roster_ic, set_prop, create, make_ci):
    set_prop("major_incident_auto_declare_mode", "off")
    ci = make_ci("checkout", users=5000)
    with freeze_time(T0):
        incident = create(impact=1, urgency=1, affected_ci=ci)
    assert _sweep(T0 + timedelta(hours=1)) == []
    assert services.evaluate_incident(incident.pk).action == ""
    assert not MajorIncident.objects.exists()
    assert not MajorIncidentCandidate.objects.exists()


def test_a_disabled_rule_does_nothing(unacked_p1):
    AutoDeclarationRule.objects.filter(name=RULE_UNACK).update(enabled=False)
    assert _sweep(T0 + timedelta(hours=1)) == []


# --- Who commands a declared MI -------------------------------------------------------------------


def test_no_commander_on_the_roster_makes_a_candidate_with_that_reason(create):
    with freeze_time(T0):
        incident = create(impact=1, urgency=1)
    outcomes = _sweep(T0 + timedelta(minutes=16))
    assert [o.action for o in outcomes] == ["proposed"]
    candidate = MajorIncidentCandidate.objects.get(incident=incident)
    assert "no incident commander on the roster" in candidate.reason
    assert _mi_of(incident) is None


def test_an_inactive_roster_commander_does_not_count(create, person):
    gone = person("usr_gone")
    gone.is_active = False
    gone.save()
    RoleRoster.objects.create(role=IC, user=gone)
    with freeze_time(T0):
        incident = create(impact=1, urgency=1)
    assert [o.action for o in _sweep(T0 + timedelta(minutes=16))] == ["proposed"]
    assert _mi_of(incident) is None


def test_an_assignee_who_may_declare_commands_when_the_roster_is_empty(create, sam):
    with freeze_time(T0):
        incident = create(impact=1, urgency=1, assigned_to=sam)
    assert [o.action for o in _sweep(T0 + timedelta(minutes=16))] == ["declared"]
    assert current_commander(_mi_of(incident)) == sam


def test_an_assignee_who_may_not_declare_gets_a_candidate(create, tina):
    with freeze_time(T0):
        incident = create(impact=1, urgency=1, assigned_to=tina)
    assert [o.action for o in _sweep(T0 + timedelta(minutes=16))] == ["proposed"]
    assert _mi_of(incident) is None


# --- Dry run --------------------------------------------------------------------------------------


def test_dry_run_lists_the_matching_incidents_of_the_last_n_days(roster_ic, tina, make_ci):
    rule = AutoDeclarationRule.objects.get(name=RULE_UNACK)
    now = T0 + timedelta(days=10)
    with freeze_time(T0 + timedelta(days=7)):
        slow = make_incident_without_evaluation()  # acknowledged after 20 min: would have fired
    with freeze_time(T0 + timedelta(days=7, minutes=20)):
        services.acknowledge_incident(incident=slow, actor=tina)
    with freeze_time(T0 + timedelta(days=8)):
        quick = make_incident_without_evaluation()  # acknowledged after 5 min: would not
    with freeze_time(T0 + timedelta(days=8, minutes=5)):
        services.acknowledge_incident(incident=quick, actor=tina)
    with freeze_time(T0 + timedelta(days=8, hours=1)):
        resolved_late = make_incident_without_evaluation()
    with freeze_time(T0 + timedelta(days=8, hours=2)):  # never acknowledged, resolved after 1 h
        services.resolve_incident(incident=resolved_late, actor=tina, resolution_notes="Fixed")
    with freeze_time(T0 + timedelta(days=1)):
        old = make_incident_without_evaluation()  # slow too, but 9 days ago
    with freeze_time(T0 + timedelta(days=9)):
        p3 = services.create_incident(actor=None, short_description="Printer", impact=3, urgency=1)
    hits = services.dry_run(rule, days=7, now=now)
    found = {incident.pk: reason for incident, reason in hits}
    assert set(found) == {slow.pk, resolved_late.pk}
    assert "unacknowledged for 20 min" in found[slow.pk]
    assert old.pk not in found and quick.pk not in found and p3.pk not in found
    assert old in [incident for incident, _ in services.dry_run(rule, days=10, now=now)]
    assert not MajorIncident.objects.exists()  # nothing written
    assert not MajorIncidentCandidate.objects.exists()


def test_dry_run_of_the_users_rule(make_ci):
    rule = AutoDeclarationRule.objects.get(name=RULE_USERS)
    big, small = make_ci("big", users=80), make_ci("small", users=10)
    with freeze_time(T0):
        hit = make_incident_without_evaluation(affected_ci=big)
        make_incident_without_evaluation(affected_ci=small)
    hits = services.dry_run(rule, days=1, now=T0 + timedelta(hours=1))
    assert [(i.pk, "80 affected users" in why) for i, why in hits] == [(hit.pk, True)]


def test_declaring_a_proposed_incident_by_hand_settles_its_candidate(candidate, alice, sam):
    """The queue must not keep offering an incident that became an MI some other way."""
    with freeze_time(T0 + timedelta(minutes=40)):
        mi = services.declare_major_incident(
            incident=candidate.incident, manager=alice, actor=sam, initial_impact_statement="Down"
        )
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.ACCEPTED
    assert candidate.major_incident == mi
    assert candidate.decided_by == sam
    assert candidate.decided_at == T0 + timedelta(minutes=40)
    with pytest.raises(Conflict):
        services.reject_candidate(candidate=candidate, actor=alice, reason="Not major")
