"""Who may command (issue 6, item 9): the incident commander gains the MI's write powers, so the
role goes only to someone who works incidents (technician, itsm_manager, super_admin). A user
holding only ``legal``, or no MIM Desk role, cannot be made IC, on any surface."""

from __future__ import annotations

from typing import Any

import pytest

from incidents import services
from incidents.errors import DomainError
from incidents.models import MajorIncident, RoleRoster
from incidents.selectors import current_commander
from tests.incidents.mi_fixtures import IC, declare, fresh

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["lee", "oscar"])
def bystander(request: Any) -> Any:
    """lee holds only legal; oscar holds no role."""
    return request.getfixturevalue(request.param)


def test_declaring_with_a_bystander_as_ic_is_refused(p1, alice, bystander):
    with pytest.raises(DomainError) as caught:
        declare(p1, bystander, actor=alice)
    assert caught.value.field == "major_incident_manager"
    assert bystander.username in caught.value.message
    assert not MajorIncident.objects.exists()


def test_handing_command_to_a_bystander_is_refused(mi, alice, bystander):
    with pytest.raises(DomainError) as caught:
        services.assign_role(mi=mi, role=IC, user=bystander, actor=alice)
    assert caught.value.field == "user"
    assert current_commander(mi) == alice
    # They gained nothing: no write power on the MI.
    assert not fresh(bystander).has_perm("incidents.manage_majorincident", mi)


def test_a_bystander_may_still_hold_another_role(mi, alice, lee):
    row = services.assign_role(mi=mi, role="executive_sponsor", user=lee, actor=alice)
    assert row.user == lee


def test_a_technician_may_command(mi, alice, tina):
    services.assign_role(mi=mi, role=IC, user=tina, actor=alice)
    assert fresh(tina).has_perm("incidents.manage_majorincident", mi)


def test_api_refuses_a_bystander_as_ic(alice_api, mi, bystander):
    response = alice_api.post(
        f"/api/major-incidents/{mi.number}/roles/",
        {"role": IC, "user": bystander.username},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "user" in response.json()


def test_api_declare_refuses_a_bystander_as_ic(alice_api, p1, bystander):
    response = alice_api.post(
        "/api/major-incidents/",
        {
            "incident_id": p1.number,
            "major_incident_manager": bystander.username,
            "initial_impact_statement": "Checkout down",
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "major_incident_manager" in response.json()


def test_web_role_form_shows_the_refusal(browser_for, alice, mi, bystander):
    response = browser_for(alice).post(
        f"/major-incidents/{mi.number}/roles/",
        {"role": IC, "user": bystander.username},
        follow=True,
    )
    # Post/redirect/get: back on the MI page, the role form shows the refusal.
    assert response.redirect_chain == [(f"/war-rooms/{mi.number}/#roles", 303)]
    assert "cannot be the incident commander" in response.content.decode()


def test_a_rule_passes_over_an_on_call_ic_who_may_not_command(make_incident, lee):
    RoleRoster.objects.create(role=IC, user=lee)
    incident = make_incident(impact=1, urgency=1)
    assert services.pick_commander(incident) is None
