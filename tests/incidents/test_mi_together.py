"""The incident and its MI move together (issue 6, item 8): declaring acknowledges the incident
and puts it in progress, the incident's pages show the MI's state, and a milestone that has not
happened cannot be backfilled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents import services
from incidents.errors import DomainError
from incidents.models import IncidentState, MajorIncident, MIStatus, TimelineKind
from tests.incidents.mi_fixtures import T0, declare, force_status

pytestmark = pytest.mark.django_db


# --- Declaring acknowledges -----------------------------------------------------------------------


def test_declaring_acknowledges_the_incident_and_puts_it_in_progress(make_incident, alice):
    with freeze_time(T0):
        incident = make_incident(impact=1, urgency=1)
    assert (incident.state, incident.acknowledged_at) == (IncidentState.NEW, None)
    with freeze_time(T0 + timedelta(minutes=4)):
        mi = declare(incident, alice)
    incident.refresh_from_db()
    assert incident.state == IncidentState.IN_PROGRESS
    assert incident.acknowledged_at == T0 + timedelta(minutes=4)
    rows = incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED)
    assert [(r.major_incident, r.actor) for r in rows] == [(mi, alice)]
    assert mi.number in rows.get().message


def test_a_rule_declaring_acknowledges_too(make_incident, roster_ic):
    incident = make_incident(impact=1, urgency=1)
    with freeze_time(incident.created_at + timedelta(minutes=20)):
        outcome = services.evaluate_incident(incident.pk)
    assert outcome.action == "declared"
    incident.refresh_from_db()
    assert incident.state == IncidentState.IN_PROGRESS
    assert incident.acknowledged_at is not None
    row = incident.timeline.get(kind=TimelineKind.ACKNOWLEDGED)
    assert row.actor is None
    assert "rule" in row.message


def test_an_incident_on_hold_is_put_back_in_progress(make_incident, alice, tina):
    incident = make_incident()
    services.acknowledge_incident(incident=incident, actor=tina)
    services.update_incident(incident=incident, actor=tina, state=IncidentState.ON_HOLD)
    acknowledged = incident.__class__.objects.get(pk=incident.pk).acknowledged_at
    declare(incident, alice)
    incident.refresh_from_db()
    assert incident.state == IncidentState.IN_PROGRESS
    assert incident.acknowledged_at == acknowledged  # the first acknowledgement stands
    assert not incident.timeline.filter(
        kind=TimelineKind.ACKNOWLEDGED, major_incident__isnull=False
    ).exists()
    move = incident.timeline.filter(kind=TimelineKind.STATE_CHANGED).latest("id")
    assert move.data == {"from": "on_hold", "to": "in_progress"}


# --- The incident's pages show the MI -------------------------------------------------------------


def test_the_incident_list_shows_each_incidents_mi_and_its_state(
    browser_for, tina, alice, make_incident
):
    burning = make_incident(short_description="Checkout down")
    plain = make_incident(short_description="Printer jam")
    mi = force_status(declare(burning, alice), MIStatus.MONITORING)
    html = browser_for(tina).get("/incidents/").content.decode()
    row = next(r for r in html.split("<tr") if burning.number in r and "Checkout down" in r)
    assert mi.number in row
    assert "mistatus--monitoring" in row
    other = next(r for r in html.split("<tr") if plain.number in r)
    assert "MI0" not in other


def test_the_incident_page_shows_its_mi_state(browser_for, tina, alice, make_incident):
    incident = make_incident()
    mi = force_status(declare(incident, alice), MIStatus.IDENTIFIED)
    html = browser_for(tina).get(f"/incidents/{incident.number}/").content.decode()
    banner = html.split('data-testid="mi-banner"', 1)[1].split("</div>", 1)[0]
    assert mi.number in banner
    assert "Identified" in banner
    assert "state--in_progress" in html  # the incident's own state followed the declaration


def test_the_incident_api_names_its_mi_and_state(alice_api: APIClient, alice, make_incident):
    incident = make_incident()
    mi = declare(incident, alice)
    body = alice_api.get(f"/api/incidents/{incident.number}/").json()
    assert body["state"] == "in_progress"
    assert body["acknowledged_at"] is not None
    assert body["major_incident"] == mi.number
    assert body["major_incident_status"] == "declared"
    listed = alice_api.get("/api/incidents/").json()["results"]
    assert [(r["major_incident"], r["major_incident_status"]) for r in listed] == [
        (mi.number, "declared")
    ]


# --- Milestones that have not happened ------------------------------------------------------------


def _patch(client: APIClient, mi: MajorIncident, **values: Any) -> Any:
    body = {k: v.isoformat() if v else v for k, v in values.items()}
    return client.patch(f"/api/major-incidents/{mi.number}/milestones/", body, format="json")


@pytest.mark.parametrize(
    "milestone, needs",
    [
        ("closed_at", "closed"),
        ("resolved_at", "resolved"),
        ("all_clear_at", "resolved"),
        ("monitoring_started_at", "in monitoring"),
    ],
)
def test_a_milestone_that_has_not_happened_cannot_be_backfilled(
    alice: Any, make_incident: Any, milestone: str, needs: str
) -> None:
    with freeze_time(T0):
        mi = declare(make_incident(), alice)
    client = APIClient()
    client.force_authenticate(alice)  # tokens and a frozen clock do not mix
    with freeze_time(T0 + timedelta(minutes=30)):
        # After the declaration and in the past: only "it has not happened" can refuse it.
        response = _patch(client, mi, **{milestone: T0 + timedelta(minutes=10)})
    assert response.status_code == 409, response.content
    assert f"has not been {needs}" in response.json()[milestone][0]
    mi.refresh_from_db()
    assert getattr(mi, milestone) is None


def test_the_service_refuses_too_naming_the_milestone(alice: Any, make_incident: Any) -> None:
    with freeze_time(T0):
        mi = declare(make_incident(), alice)
    with freeze_time(T0 + timedelta(hours=1)), pytest.raises(DomainError) as refused:
        services.set_milestones(mi=mi, actor=alice, values={"closed_at": T0 + timedelta(minutes=5)})
    assert refused.value.field == "closed_at"
    assert "has not been closed" in refused.value.message


def test_milestones_that_happened_may_be_corrected(alice: Any, make_incident: Any) -> None:
    with freeze_time(T0):
        mi = declare(make_incident(), alice)
        services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
    with freeze_time(T0 + timedelta(minutes=20)):
        mi = services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
        earlier = T0 + timedelta(minutes=18)
        mi = services.set_milestones(
            mi=mi, actor=alice, values={"resolved_at": earlier, "all_clear_at": earlier}
        )
    assert (mi.resolved_at, mi.all_clear_at) == (earlier, earlier)


def test_the_stability_clock_is_not_backfilled_while_it_runs(alice: Any, make_incident: Any):
    # Moving monitoring_started_at back would let the MI be resolved before it proved stable.
    with freeze_time(T0):
        mi = declare(make_incident(), alice)
    with freeze_time(T0 + timedelta(minutes=30)):
        mi = services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
        with pytest.raises(DomainError) as refused:
            services.set_milestones(
                mi=mi, actor=alice, values={"monitoring_started_at": T0 + timedelta(minutes=5)}
            )
    assert refused.value.field == "monitoring_started_at"
    assert "stability" in refused.value.message


def test_facts_without_a_state_may_be_backfilled_any_time(alice: Any, mi: MajorIncident):
    moment = timezone.now() - timedelta(seconds=10)
    mi = services.set_milestones(
        mi=mi,
        actor=alice,
        values={"fix_deployed_at": moment, "first_stakeholder_update_at": moment},
    )
    assert mi.fix_deployed_at == moment


def test_the_web_form_offers_no_box_for_what_has_not_happened(browser_for, alice, mi):
    html = browser_for(alice).get(f"/war-rooms/{mi.number}/").content.decode()
    assert 'name="closed_at"' not in html
    assert 'name="resolved_at"' not in html
    assert 'name="fix_deployed_at"' in html
    assert "when it is closed" in html
