"""Edit what was declared (issue 6, item 10): ``PATCH /api/major-incidents/{number}/`` and the
form on the MI page, both through ``update_major_incident``; rule-declared MIs get an impact
statement a stakeholder can read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents import services
from incidents.models import MajorIncident, MIStatus, RaciRole, TimelineKind
from tests.conftest import bearer_client
from tests.incidents.mi_fixtures import T0, declare, force_status

pytestmark = pytest.mark.django_db


def api(mi: MajorIncident) -> str:
    return f"/api/major-incidents/{mi.number}/"


def page(mi: MajorIncident, action: str = "") -> str:
    return f"/major-incidents/{mi.number}/" + (f"{action}/" if action else "")


def room(mi: MajorIncident) -> str:
    """The MI's page, its war room (``/major-incidents/<n>/`` redirects there)."""
    return f"/war-rooms/{mi.number}/"


def _edit_rows(mi: MajorIncident) -> list[Any]:
    return list(mi.timeline.filter(kind=TimelineKind.UPDATED).order_by("id"))


# --- API ------------------------------------------------------------------------------------------


def test_the_ic_edits_what_was_declared(alice_api: APIClient, mi: MajorIncident) -> None:
    response = alice_api.patch(
        api(mi),
        {
            "impact_statement": "EU card payments fail; PayPal works",
            "summary": "Acquirer outage",
            "bridge_link": "https://meet.example.com/new",
            "is_security": True,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["impact_statement"] == "EU card payments fail; PayPal works"
    assert body["summary"] == "Acquirer outage"
    assert body["bridge_link"] == "https://meet.example.com/new"
    assert body["is_security"] is True
    mi.refresh_from_db()
    assert mi.incident.is_security is True  # the incident's flag follows
    assert {r.data["field"] for r in _edit_rows(mi)} == {
        "impact_statement",
        "summary",
        "bridge_link",
        "is_security",
    }


def test_a_technician_ic_may_edit_but_a_team_member_may_not(
    alice: Any, tina: Any, person: Any, mi: MajorIncident
) -> None:
    bob = person("usr_bob_tech", "technician")
    services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=bob, actor=alice)
    services.assign_role(mi=mi, role=RaciRole.MAJOR_INCIDENT_MANAGER, user=tina, actor=alice)
    scribe = bearer_client(bob).patch(api(mi), {"summary": "mine"}, format="json")
    assert scribe.status_code == 403
    ic = bearer_client(tina).patch(api(mi), {"summary": "Acquirer outage"}, format="json")
    assert ic.status_code == 200, ic.content
    mi.refresh_from_db()
    assert mi.summary == "Acquirer outage"


def test_an_outsider_may_not_edit(oscar_api: APIClient, mi: MajorIncident) -> None:
    assert oscar_api.patch(api(mi), {"summary": "x"}, format="json").status_code == 403
    mi.refresh_from_db()
    assert mi.summary == ""


def test_unknown_and_read_only_fields_are_400_naming_them(
    alice_api: APIClient, mi: MajorIncident
) -> None:
    response = alice_api.patch(
        api(mi), {"impact_statment": "typo", "status": "resolved"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"impact_statment", "status"}
    assert alice_api.patch(api(mi), {}, format="json").status_code == 400
    mi.refresh_from_db()
    assert mi.status == MIStatus.DECLARED


@pytest.mark.parametrize(
    "body, field",
    [
        ({"impact_statement": ""}, "impact_statement"),
        ({"bridge_link": "not a link"}, "bridge_link"),
        ({"bridge_link": "ftp://files.example.com/x"}, "bridge_link"),
        ({"is_security": "maybe"}, "is_security"),
    ],
)
def test_bad_values_are_400_naming_the_field(
    alice_api: APIClient, mi: MajorIncident, body: dict[str, Any], field: str
) -> None:
    response = alice_api.patch(api(mi), body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_null_clears_the_bridge_link(alice_api: APIClient, alice: Any, make_incident: Any):
    mi = declare(make_incident(), alice, bridge_link="https://meet.example.com/abc")
    response = alice_api.patch(api(mi), {"bridge_link": None}, format="json")
    assert response.status_code == 200, response.content
    mi.refresh_from_db()
    assert mi.bridge_link == ""


def test_a_closed_mi_is_final(alice_api: APIClient, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.CLOSED)
    assert alice_api.patch(api(mi), {"summary": "late"}, format="json").status_code == 409


def test_the_schema_documents_the_patch(alice_api: APIClient) -> None:
    schema = alice_api.get("/api/schema/?format=json").json()
    patch = schema["paths"]["/api/major-incidents/{number}/"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = body.rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][name]["properties"]
    assert set(fields) == {
        "impact_statement",
        "summary",
        "bridge_link",
        "bridge_dial_in",
        "is_security",
        "media_attention",
    }
    assert fields["bridge_link"].get("nullable") is True
    assert {"200", "400", "403", "404", "409"} <= set(patch["responses"])


# --- Web form -------------------------------------------------------------------------------------


def test_the_ic_edits_on_the_mi_page(browser_for: Any, alice: Any, mi: MajorIncident) -> None:
    client: Client = browser_for(alice)
    html = client.get(room(mi)).content.decode()
    assert 'data-testid="edit-form"' in html
    response = client.post(
        page(mi, "edit"),
        {
            "edit-impact_statement": "EU card payments fail\r\nPayPal works",
            "edit-summary": "",
            "edit-bridge_link": "https://meet.example.com/new",
            "edit-media_attention": "on",
        },
    )
    assert response.status_code == 302
    mi.refresh_from_db()
    assert mi.impact_statement == "EU card payments fail\nPayPal works"
    assert mi.bridge_link == "https://meet.example.com/new"
    assert mi.media_attention is True
    assert {r.data["field"] for r in _edit_rows(mi)} == {
        "impact_statement",
        "bridge_link",
        "media_attention",
    }


def test_an_untouched_form_changes_nothing(browser_for: Any, alice: Any, mi: MajorIncident):
    client: Client = browser_for(alice)
    response = client.post(
        page(mi, "edit"), {"edit-impact_statement": mi.impact_statement}, follow=True
    )
    assert "Nothing changed." in response.content.decode()
    assert _edit_rows(mi) == []


def test_a_refused_edit_comes_back_filled_in(browser_for: Any, alice: Any, mi: MajorIncident):
    client: Client = browser_for(alice)
    response = client.post(
        page(mi, "edit"),
        {"edit-impact_statement": "  ", "edit-summary": "Kept as typed"},
        follow=True,
    )
    assert response.redirect_chain == [(room(mi) + "#declared", 303)]
    html = response.content.decode()
    assert "The impact statement cannot be empty." in html
    assert "Kept as typed" in html
    assert '<details class="edit-declared" open>' in html
    mi.refresh_from_db()
    assert mi.impact_statement == "Checkout down for every customer"


def test_the_edit_form_is_only_for_who_may_edit(
    browser_for: Any, alice: Any, person: Any, mi: MajorIncident
) -> None:
    bob = person("usr_bob_tech", "technician")
    services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=bob, actor=alice)
    client: Client = browser_for(bob)
    assert 'data-testid="edit-form"' not in client.get(room(mi)).content.decode()
    response = client.post(page(mi, "edit"), {"edit-impact_statement": "mine"})
    assert response.status_code == 403
    force_status(mi, MIStatus.CLOSED)
    assert 'data-testid="edit-form"' not in browser_for(alice).get(room(mi)).content.decode()


# --- Rule-declared impact statement ---------------------------------------------------------------


def test_a_rule_declares_with_a_statement_a_stakeholder_can_read(
    make_ci: Any, make_incident: Any, roster_ic: Any
) -> None:
    db = make_ci("Payments DB", users=1200)
    make_ci("Checkout Service", users=34, depends_on=(db,))
    with freeze_time(T0):
        incident = make_incident(
            short_description="Card payments time out.",
            affected_ci=db,
            impact=1,
            urgency=1,
            impact_started_at=T0 - timedelta(minutes=12),
        )
    with freeze_time(T0 + timedelta(minutes=1)):
        services.evaluate_incident(incident.pk)
    mi = MajorIncident.objects.get(incident=incident)
    assert mi.trigger_rule is not None
    assert mi.impact_statement == (
        "Card payments time out. 1,234 users affected through Payments DB and the services "
        "that depend on it, since 08:48 UTC on 2025-03-03."
    )
    assert "(" not in mi.impact_statement  # the rule's own wording stays in trigger_reason
    assert "affected users (more than" in mi.trigger_reason


def test_without_a_ci_the_statement_says_what_is_not_known(make_incident: Any) -> None:
    with freeze_time(T0):
        incident = make_incident(short_description="Everything is slow")
    assert services.stakeholder_impact_statement(incident) == (
        "Everything is slow. No affected service is recorded yet, nor how many users; "
        "since 09:00 UTC on 2025-03-03."
    )


def test_an_accepted_proposal_without_a_statement_gets_one(
    sam: Any, make_ci: Any, make_incident: Any
) -> None:
    from incidents.models import AutoDeclarationRule, MajorIncidentCandidate

    incident = make_incident(
        short_description="Search is empty", affected_ci=make_ci("Search", users=7)
    )
    candidate = MajorIncidentCandidate.objects.create(
        incident=incident,
        rule=AutoDeclarationRule.objects.order_by("order").first(),
        reason="P1, unacknowledged for 22 min (limit 15)",
    )
    mi = services.accept_candidate(candidate=candidate, actor=sam)
    assert mi.impact_statement.startswith("Search is empty. 7 users affected through Search")
