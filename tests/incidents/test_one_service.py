"""One service per change, from every surface (issue 6, item 16): problems and changes save
through their services, a new incident starts in state new whoever logs it, and the incident's
and its MI's security flags never diverge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from incidents import services
from incidents.errors import DomainError
from incidents.models import Change, IncidentState, TimelineKind
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db


# --- create_incident enforces the initial state ---------------------------------------------------


@pytest.mark.parametrize("state", ["resolved", "closed", "in_progress", "cancelled"])
def test_a_new_incident_starts_new_whoever_logs_it(sam, state):
    with pytest.raises(DomainError) as caught:
        services.create_incident(actor=sam, short_description="Born resolved", state=state)
    assert caught.value.field == "state"


def test_a_new_incident_may_say_new(tina):
    incident = services.create_incident(actor=tina, short_description="Fine", state="new")
    assert incident.state == IncidentState.NEW


def test_api_create_in_another_state_is_a_400(tina_api):
    response = tina_api.post(
        "/api/incidents/", {"short_description": "x", "state": "closed"}, format="json"
    )
    assert response.status_code == 400
    assert "state" in response.json()


# --- Changes --------------------------------------------------------------------------------------


def test_save_change_refuses_a_window_that_ends_before_it_starts(tina):
    start = timezone.now()
    change = Change(
        short_description="Rotate certs",
        planned_start=start,
        planned_end=start - timedelta(hours=1),
    )
    with pytest.raises(DomainError) as caught:
        services.save_change(change=change, actor=tina)
    assert caught.value.field == "planned_end"
    assert not Change.objects.exists()


def test_save_change_stamps_who_created_it(tina):
    change = services.save_change(change=Change(short_description="Rotate certs"), actor=tina)
    assert change.created_by == tina


def test_admin_change_add_goes_through_the_service(browser_for, root, admin_form):
    client = browser_for(root)
    data = admin_form(client.get("/admin/incidents/change/add/"))
    data.update({"short_description": "Patch the gateway", "_save": "Save"})
    response = client.post("/admin/incidents/change/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Change.objects.get().created_by == root


# --- The incident's and its MI's security flag ----------------------------------------------------


def test_marking_the_incident_security_marks_its_mi(mi, alice):
    services.update_incident(incident=mi.incident, actor=alice, is_security=True)
    mi.refresh_from_db()
    assert mi.is_security is True
    row = mi.incident.timeline.get(kind=TimelineKind.UPDATED, major_incident=mi)
    assert row.data == {"field": "is_security", "from": False, "to": True}


def test_a_technician_outside_the_team_cannot_flip_the_security_flag_of_an_open_mi(
    mi, tina_api: Any
):
    response = tina_api.patch(
        f"/api/incidents/{mi.incident.number}/", {"is_security": True}, format="json"
    )
    assert response.status_code == 403, response.content
    mi.refresh_from_db()
    mi.incident.refresh_from_db()
    assert (mi.is_security, mi.incident.is_security) == (False, False)


def test_a_technician_may_flag_an_incident_without_an_mi(make_incident, tina):
    incident = make_incident()
    services.update_incident(incident=incident, actor=tina, is_security=True)
    incident.refresh_from_db()
    assert incident.is_security is True
    row = incident.timeline.get(kind=TimelineKind.UPDATED)
    assert row.data == {"changes": {"is_security": [False, True]}}


def test_unflagging_the_mi_unflags_the_incident(p1, alice):
    mi = declare(p1, alice, is_security=True)
    p1.refresh_from_db()
    assert p1.is_security is True
    services.update_major_incident(mi=mi, actor=alice, is_security=False)
    p1.refresh_from_db()
    assert p1.is_security is False
