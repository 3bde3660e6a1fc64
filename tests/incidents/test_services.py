"""Incident services: acknowledge, resolve, link, state moves; one timeline row per change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from incidents import services
from incidents.errors import DomainError, NotAllowed
from incidents.models import Incident, IncidentState, TimelineKind

S = IncidentState


def _in_state(make_incident, actor: Any, state: str) -> Incident:
    incident = make_incident(actor=actor)
    if state == S.IN_PROGRESS:
        services.acknowledge_incident(incident=incident, actor=actor)
    elif state in (S.ON_HOLD, S.CANCELLED):
        services.update_incident(incident=incident, actor=actor, state=state)
    elif state in (S.RESOLVED, S.CLOSED):
        services.resolve_incident(incident=incident, actor=actor, resolution_notes="Fixed")
        if state == S.CLOSED:
            services.update_incident(incident=incident, actor=actor, state=S.CLOSED)
    incident.refresh_from_db()
    assert incident.state == state
    return incident


# --- acknowledge ------------------------------------------------------------------------------


def test_acknowledge_stamps_assigns_and_records(make_incident, tina):
    incident = make_incident()
    before = timezone.now()
    done = services.acknowledge_incident(incident=incident, actor=tina)
    assert done.state == S.IN_PROGRESS
    assert before <= done.acknowledged_at <= timezone.now()
    assert done.assigned_to == tina
    row = done.timeline.get(kind=TimelineKind.ACKNOWLEDGED)
    assert row.actor == tina
    assert tina.username in row.message


def test_acknowledge_twice_is_a_no_op(make_incident, tina, alice):
    incident = make_incident()
    first = services.acknowledge_incident(incident=incident, actor=tina)
    second = services.acknowledge_incident(incident=incident, actor=alice)
    assert second.acknowledged_at == first.acknowledged_at
    assert second.assigned_to == tina
    assert incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).count() == 1


def test_acknowledge_keeps_an_existing_assignee(make_incident, tina, alice):
    incident = make_incident(assigned_to=alice)
    assert services.acknowledge_incident(incident=incident, actor=tina).assigned_to == alice


def test_acknowledge_on_hold_keeps_state(make_incident, tina):
    incident = _in_state(make_incident, tina, S.ON_HOLD)
    done = services.acknowledge_incident(incident=incident, actor=tina)
    assert (done.state, done.acknowledged_at is not None) == (S.ON_HOLD, True)


@pytest.mark.parametrize("state", [S.RESOLVED, S.CLOSED, S.CANCELLED])
def test_acknowledge_finished_incident_refused(make_incident, tina, state):
    incident = _in_state(make_incident, tina, state)
    with pytest.raises(DomainError):
        services.acknowledge_incident(incident=incident, actor=tina)


def test_acknowledge_api_twice(tina_api, make_incident):
    incident = make_incident()
    url = f"/api/incidents/{incident.number}/acknowledge/"
    first = tina_api.post(url).json()
    second = tina_api.post(url)
    assert second.status_code == 200
    assert second.json()["acknowledged_at"] == first["acknowledged_at"]
    assert first["state"] == "in_progress"


# --- resolve ---------------------------------------------------------------------------------


def test_resolve_stamps_times_and_notes(make_incident, tina):
    incident = make_incident()
    done = services.resolve_incident(
        incident=incident, actor=tina, resolution_notes="  Rolled back  "
    )
    assert done.state == S.RESOLVED
    assert done.resolution_notes == "Rolled back"
    assert done.resolved_at is not None
    assert done.acknowledged_at == done.resolved_at  # resolving unacknowledged acknowledges it
    row = done.timeline.get(kind=TimelineKind.RESOLVED)
    assert row.data == {"resolution_notes": "Rolled back"}
    assert row.actor == tina


def test_resolve_keeps_earlier_acknowledgement(make_incident, tina):
    incident = make_incident()
    acked = services.acknowledge_incident(incident=incident, actor=tina).acknowledged_at
    done = services.resolve_incident(incident=incident, actor=tina, resolution_notes="Fixed")
    assert done.acknowledged_at == acked
    assert done.resolved_at >= acked


@pytest.mark.parametrize("notes", ["", "   ", None])
def test_resolve_needs_notes(make_incident, tina, notes):
    incident = make_incident()
    with pytest.raises(DomainError) as err:
        services.resolve_incident(incident=incident, actor=tina, resolution_notes=notes)
    assert err.value.field == "resolution_notes"
    incident.refresh_from_db()
    assert (incident.state, incident.resolved_at) == (S.NEW, None)


@pytest.mark.parametrize("state", [S.RESOLVED, S.CLOSED, S.CANCELLED])
def test_resolve_finished_incident_refused(make_incident, tina, state):
    incident = _in_state(make_incident, tina, state)
    with pytest.raises(DomainError):
        services.resolve_incident(incident=incident, actor=tina, resolution_notes="Again")


def test_resolve_api(tina_api, make_incident):
    incident = make_incident()
    response = tina_api.post(
        f"/api/incidents/{incident.number}/resolve/", {"resolution_notes": "Fixed"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["resolution_notes"]) == ("resolved", "Fixed")
    assert body["resolved_at"]


# --- state moves -----------------------------------------------------------------------------

ALLOWED = {
    (S.NEW, S.IN_PROGRESS),
    (S.NEW, S.ON_HOLD),
    (S.NEW, S.CANCELLED),
    (S.IN_PROGRESS, S.ON_HOLD),
    (S.IN_PROGRESS, S.CANCELLED),
    (S.ON_HOLD, S.IN_PROGRESS),
    (S.ON_HOLD, S.CANCELLED),
    (S.RESOLVED, S.IN_PROGRESS),  # reopen
    (S.RESOLVED, S.CLOSED),
}
MOVES = [(a, b) for a in S for b in S if a != b]


@pytest.mark.parametrize(("start", "to"), MOVES, ids=[f"{a}->{b}" for a, b in MOVES])
def test_state_moves_through_patch(tina_api, make_incident, tina, start, to):
    incident = _in_state(make_incident, tina, start)
    rows = incident.timeline.count()
    response = tina_api.patch(f"/api/incidents/{incident.number}/", {"state": to}, format="json")
    incident.refresh_from_db()
    if (start, to) in ALLOWED:
        assert response.status_code == 200, response.content
        assert incident.state == to
        row = incident.timeline.order_by("-id").first()
        assert (row.kind, row.data) == (TimelineKind.STATE_CHANGED, {"from": start, "to": to})
        assert incident.timeline.count() == rows + 1
    else:
        # Resolving needs the resolve action's note (the input is wrong: 400); any other move
        # the current state does not allow is a conflict with that state (409).
        assert response.status_code == (400 if to == S.RESOLVED else 409), response.content
        assert "state" in response.json()
        assert incident.state == start
        assert incident.timeline.count() == rows


def test_patch_state_resolved_tells_to_use_resolve(tina_api, make_incident):
    incident = make_incident()
    response = tina_api.patch(
        f"/api/incidents/{incident.number}/", {"state": "resolved"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"state": ["use the resolve action, which records a resolution note"]}


def test_same_state_is_a_no_op(make_incident, tina):
    incident = make_incident()
    services.update_incident(incident=incident, actor=tina, state=S.NEW)
    assert incident.timeline.count() == 1


def test_reopen_clears_resolved_at(make_incident, tina):
    incident = _in_state(make_incident, tina, S.RESOLVED)
    assert incident.resolved_at is not None
    reopened = services.update_incident(incident=incident, actor=tina, state=S.IN_PROGRESS)
    assert reopened.state == S.IN_PROGRESS
    assert reopened.resolved_at is None
    again = services.resolve_incident(incident=reopened, actor=tina, resolution_notes="For real")
    assert again.resolved_at is not None
    assert again.resolution_notes == "For real"


def test_close_stamps_closed_at(make_incident, tina):
    incident = _in_state(make_incident, tina, S.CLOSED)
    assert incident.closed_at is not None
    assert incident.closed_at >= incident.resolved_at


def test_moving_to_in_progress_acknowledges(make_incident, tina):
    incident = make_incident()
    moved = services.update_incident(incident=incident, actor=tina, state=S.IN_PROGRESS)
    assert moved.acknowledged_at is not None


def test_refused_update_changes_nothing(make_incident, tina):
    incident = make_incident()
    with pytest.raises(DomainError):
        services.update_incident(
            incident=incident, actor=tina, short_description="Renamed", state=S.CLOSED
        )
    incident.refresh_from_db()
    assert incident.short_description == "Checkout returns 503"
    assert incident.timeline.count() == 1


def test_update_unknown_field_refused(make_incident, tina):
    with pytest.raises(DomainError):
        services.update_incident(incident=make_incident(), actor=tina, affected_users=5)


def test_create_unknown_field_refused(tina):
    with pytest.raises(DomainError):
        services.create_incident(actor=tina, short_description="x", acknowledged_at=timezone.now())


def test_update_records_changed_fields_once(make_incident, tina):
    incident = make_incident()
    services.update_incident(
        incident=incident, actor=tina, description="Details", assignment_group="Payments"
    )
    services.update_incident(incident=incident, actor=tina, description="Details")  # no change
    rows = incident.timeline.filter(kind=TimelineKind.UPDATED)
    assert rows.count() == 1
    assert set(rows.get().data["changes"]) == {"description", "assignment_group"}


def test_priority_override_needs_permission(make_incident, tina, alice):
    incident = make_incident()
    with pytest.raises(NotAllowed):
        services.update_incident(incident=incident, actor=tina, priority=1)
    with pytest.raises(NotAllowed):
        services.create_incident(actor=None, short_description="x", priority=1)
    assert services.update_incident(incident=incident, actor=alice, priority=1).priority == 1


def test_milestones_in_order(tina):
    now = timezone.now()
    with pytest.raises(DomainError) as err:
        services.create_incident(
            actor=tina,
            short_description="x",
            impact_started_at=now - timedelta(minutes=5),
            detected_at=now - timedelta(minutes=10),
        )
    assert err.value.field == "detected_at"
    incident = services.create_incident(
        actor=tina, short_description="x", impact_started_at=now - timedelta(minutes=5)
    )
    assert incident.detected_at == incident.impact_started_at


# --- link ------------------------------------------------------------------------------------


def test_link_makes_a_child_and_records_on_both(make_incident, tina):
    parent, child = make_incident(), make_incident()
    linked = services.link_incident(incident=child, parent=parent, actor=tina)
    assert linked.parent == parent
    assert child.timeline.get(kind=TimelineKind.LINKED).data == {"parent": parent.number}
    assert parent.timeline.get(kind=TimelineKind.LINKED).data == {"child": child.number}


def test_link_twice_is_a_no_op(make_incident, tina):
    parent, child = make_incident(), make_incident()
    services.link_incident(incident=child, parent=parent, actor=tina)
    services.link_incident(incident=child, parent=parent, actor=tina)
    assert child.timeline.filter(kind=TimelineKind.LINKED).count() == 1


def test_relink_to_another_parent(make_incident, tina):
    first, second, child = make_incident(), make_incident(), make_incident()
    services.link_incident(incident=child, parent=first, actor=tina)
    services.link_incident(incident=child, parent=second, actor=tina)
    child.refresh_from_db()
    assert child.parent == second


def test_link_to_itself_refused(make_incident, tina):
    incident = make_incident()
    with pytest.raises(DomainError) as err:
        services.link_incident(incident=incident, parent=incident, actor=tina)
    assert err.value.field == "parent"


def test_link_under_a_child_refused(make_incident, tina):
    top, middle, bottom = make_incident(), make_incident(), make_incident()
    services.link_incident(incident=middle, parent=top, actor=tina)
    with pytest.raises(DomainError) as err:
        services.link_incident(incident=bottom, parent=middle, actor=tina)
    assert top.number in err.value.message


def test_link_a_parent_refused(make_incident, tina):
    top, child, other = make_incident(), make_incident(), make_incident()
    services.link_incident(incident=child, parent=top, actor=tina)
    with pytest.raises(DomainError):
        services.link_incident(incident=top, parent=other, actor=tina)


def test_link_to_cancelled_refused(make_incident, tina):
    cancelled = _in_state(make_incident, tina, S.CANCELLED)
    with pytest.raises(DomainError):
        services.link_incident(incident=make_incident(), parent=cancelled, actor=tina)


def test_link_api(tina_api, make_incident):
    parent, child = make_incident(), make_incident()
    response = tina_api.post(
        f"/api/incidents/{child.number}/link/", {"parent": parent.number}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["parent"] == parent.number
    listed = tina_api.get(f"/api/incidents/?parent={parent.number}").json()
    assert [row["number"] for row in listed["results"]] == [child.number]


def test_reopening_recomputes_affected_users(tina, make_ci, make_incident):
    from incidents import services as svc

    db = make_ci("reopen-db", users=10)
    incident = make_incident(tina, affected_ci=db)
    svc.resolve_incident(incident=incident, actor=tina, resolution_notes="fixed")
    make_ci("reopen-app", users=90, depends_on=(db,))
    svc.update_incident(incident=incident, actor=tina, state="in_progress")
    incident.refresh_from_db()
    assert incident.affected_users == 100
    assert incident.resolved_at is None


def test_problem_resolution_is_stamped_and_cleared_on_reopen(alice_api):
    created = alice_api.post("/api/problems/", {"short_description": "Pool"}, format="json")
    number = created.json()["number"]
    assert created.json()["resolved_at"] is None
    resolved = alice_api.patch(f"/api/problems/{number}/", {"state": "resolved"}, format="json")
    assert resolved.json()["resolved_at"] is not None
    reopened = alice_api.patch(
        f"/api/problems/{number}/", {"state": "fix_in_progress"}, format="json"
    )
    assert reopened.json()["resolved_at"] is None
    assert created.json()["created_by"] == "usr_alice_johnson"
