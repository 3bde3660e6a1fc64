"""The incident of a live major incident follows its MI (issue 6, item 3).

While the MI is declared … resolved, the incident's state moves only with the MI's lifecycle:
resolving, cancelling, holding, reopening or closing it directly, or linking it under another
incident, is a 409 that names the MI, from the API, the web pages and the services alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from incidents import services
from incidents.errors import Conflict
from incidents.models import (
    Incident,
    IncidentState,
    MajorIncident,
    MIStatus,
    TimelineKind,
)
from tests.incidents.mi_fixtures import T0, declare, force_status

pytestmark = pytest.mark.django_db

API = "/api/incidents/"


def _state(incident: Incident) -> str:
    incident.refresh_from_db()
    return incident.state


@pytest.fixture
def other(make_incident: Any) -> Incident:
    return make_incident(short_description="Another outage", impact=2, urgency=2)


# --- API ------------------------------------------------------------------------------------------


def test_api_resolve_of_the_mi_incident_is_a_409_naming_the_mi(tina_api, mi):
    response = tina_api.post(
        f"{API}{mi.incident.number}/resolve/", {"resolution_notes": "fixed"}, format="json"
    )
    assert response.status_code == 409, response.content
    assert mi.number in response.json()["detail"]
    assert f"resolve {mi.number}" in response.json()["detail"]
    assert _state(mi.incident) != IncidentState.RESOLVED
    assert not mi.incident.timeline.filter(kind=TimelineKind.RESOLVED).exists()


@pytest.mark.parametrize("to", [IncidentState.CANCELLED, IncidentState.ON_HOLD])
def test_api_patch_state_of_the_mi_incident_is_a_409(alice_api, mi, to):
    before = _state(mi.incident)
    response = alice_api.patch(f"{API}{mi.incident.number}/", {"state": to}, format="json")
    assert response.status_code == 409, response.content
    assert mi.number in str(response.json())
    assert _state(mi.incident) == before


def test_api_link_of_the_mi_incident_under_another_is_a_409(tina_api, mi, other):
    response = tina_api.post(
        f"{API}{mi.incident.number}/link/", {"parent": other.number}, format="json"
    )
    assert response.status_code == 409, response.content
    assert mi.number in response.json()["detail"]
    mi.incident.refresh_from_db()
    assert mi.incident.parent_id is None


def test_linking_another_incident_under_the_mi_incident_is_fine(tina_api, mi, other):
    response = tina_api.post(
        f"{API}{other.number}/link/", {"parent": mi.incident.number}, format="json"
    )
    assert response.status_code == 200, response.content


def test_other_fields_of_the_mi_incident_stay_editable(tina_api, mi):
    response = tina_api.patch(
        f"{API}{mi.incident.number}/", {"description": "Timeouts from the gateway"}, format="json"
    )
    assert response.status_code == 200, response.content


def test_putting_the_mi_incident_back_in_progress_is_allowed(alice, mi):
    # An incident that was on hold when it was declared may be picked up again.
    Incident.objects.filter(pk=mi.incident_id).update(state=IncidentState.ON_HOLD)
    services.update_incident(incident=mi.incident, actor=alice, state=IncidentState.IN_PROGRESS)
    assert _state(mi.incident) == IncidentState.IN_PROGRESS


# --- Web ------------------------------------------------------------------------------------------


def test_web_resolve_shows_the_refusal_on_the_page(browser_for, tina, mi):
    client: Client = browser_for(tina)
    response = client.post(
        f"/incidents/{mi.incident.number}/resolve/", {"resolution_notes": "fixed"}, follow=True
    )
    assert response.status_code == 200
    assert mi.number in response.content.decode()
    assert "cannot be resolved on its own" in response.content.decode()
    assert _state(mi.incident) != IncidentState.RESOLVED


def test_the_incident_page_offers_no_move_the_mi_owns(browser_for, tina, mi):
    html = browser_for(tina).get(f"/incidents/{mi.incident.number}/").content.decode()
    assert f"/incidents/{mi.incident.number}/resolve/" not in html
    assert f"/incidents/{mi.incident.number}/link/" not in html
    assert f"resolving {mi.number} resolves it" in html


def test_web_link_shows_the_refusal_on_the_page(browser_for, tina, mi, other):
    response = browser_for(tina).post(
        f"/incidents/{mi.incident.number}/link/", {"parent": other.number}, follow=True
    )
    assert response.status_code == 200
    assert "cannot be linked as a child of another incident on its own" in (
        response.content.decode()
    )
    mi.incident.refresh_from_db()
    assert mi.incident.parent_id is None


def test_web_edit_refuses_cancelling_the_mi_incident(browser_for, tina, mi):
    incident = mi.incident
    data = {
        "short_description": incident.short_description,
        "description": "",
        "caller": "",
        "channel": incident.channel,
        "affected_ci": "",
        "ci_q": "",
        "impact": str(incident.impact),
        "urgency": str(incident.urgency),
        "assignment_group": "",
        "assigned_to": "",
        "impact_started_at": "",
        "detected_at": "",
        "state": IncidentState.CANCELLED,
    }
    response = browser_for(tina).post(f"/incidents/{incident.number}/edit/", data)
    assert response.status_code == 400
    assert mi.number in response.content.decode()
    assert _state(incident) != IncidentState.CANCELLED


# --- The MI moves its incident --------------------------------------------------------------------


def _walk_to_resolved(mi: MajorIncident, actor: Any) -> MajorIncident:
    with freeze_time(T0) as clock:
        mi = services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=actor)
        clock.tick(timedelta(minutes=16))
        return services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=actor)


def test_the_mi_resolves_reopens_and_closes_its_incident(alice, p1, other):
    with freeze_time(T0):
        mi = declare(p1, alice)
    services.link_incident(incident=other, parent=p1, actor=alice)
    mi = _walk_to_resolved(mi, alice)
    assert (_state(p1), _state(other)) == (IncidentState.RESOLVED, IncidentState.RESOLVED)

    # Resolved with the MI: reopening or closing it directly is the MI's business too.
    with pytest.raises(Conflict, match=f"reopen {mi.number}"):
        services.update_incident(incident=p1, actor=alice, state=IncidentState.IN_PROGRESS)
    with pytest.raises(Conflict, match=f"closed when {mi.number} is closed"):
        services.update_incident(incident=p1, actor=alice, state=IncidentState.CLOSED)

    mi = services.transition_major_incident(
        mi=mi, to=MIStatus.INVESTIGATING, actor=alice, reason="errors are back"
    )
    p1.refresh_from_db()
    assert (p1.state, p1.resolved_at) == (IncidentState.IN_PROGRESS, None)

    mi = _walk_to_resolved(mi, alice)
    MajorIncident.objects.filter(pk=mi.pk).update(pir_published_at=timezone.now())
    services.transition_major_incident(mi=mi, to=MIStatus.CLOSED, actor=alice)
    assert _state(p1) == IncidentState.CLOSED


def test_a_cancelled_mi_lets_its_incident_go(alice, mi):
    services.transition_major_incident(
        mi=mi, to=MIStatus.CANCELLED, actor=alice, reason="declared in error"
    )
    services.resolve_incident(incident=mi.incident, actor=alice, resolution_notes="fixed")
    assert _state(mi.incident) == IncidentState.RESOLVED


def test_a_closed_mi_lets_its_incident_go(alice, mi):
    force_status(mi, MIStatus.CLOSED)
    services.update_incident(incident=mi.incident, actor=alice, state=IncidentState.ON_HOLD)
    assert _state(mi.incident) == IncidentState.ON_HOLD
