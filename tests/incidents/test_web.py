"""The technician web pages, driven through Django's test client as the suite's personas."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.models import Incident, IncidentState, TimelineKind
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LIST = "/incidents/"
NEW = "/incidents/new/"


def login(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def detail_url(incident: Incident, action: str = "") -> str:
    return f"/incidents/{incident.number}/" + (f"{action}/" if action else "")


def create_payload(**overrides: Any) -> dict[str, Any]:
    data = {
        "short_description": "Checkout returns 503 for all EU customers",
        "description": "Since 09:40 UTC every checkout attempt fails.",
        "caller": "",
        "channel": "phone",
        "affected_ci": "",
        "ci_q": "",
        "impact": "1",
        "urgency": "2",
        "assignment_group": "Payments",
        "assigned_to": "",
        "impact_started_at": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def tina_client(tina: Any) -> Client:
    return login(tina)


@pytest.fixture
def alice_client(alice: Any) -> Client:
    return login(alice)


@pytest.fixture
def oscar_client(oscar: Any) -> Client:
    return login(oscar)


@pytest.fixture
def diamond(make_ci: Any) -> dict[str, Any]:
    """A database under two services that share a storefront: 100 + 200 + 400 + 800 users."""
    db = make_ci("Orders DB", users=100, kind="database")
    checkout = make_ci("Checkout", users=200, depends_on=(db,))
    payments = make_ci("Payments", users=400, depends_on=(db,))
    store = make_ci(
        "Storefront", users=800, kind="business_service", depends_on=(checkout, payments)
    )
    return {"db": db, "checkout": checkout, "payments": payments, "store": store}


# --- Who may see what -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [LIST, NEW, "/incidents/INC0000001/", "/incidents/INC0000001/edit/"]
)
def test_anonymous_is_sent_to_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_anonymous_post_action_is_sent_to_login(client: Client, make_incident: Any) -> None:
    incident = make_incident()
    response = client.post(detail_url(incident, "acknowledge"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    incident.refresh_from_db()
    assert incident.acknowledged_at is None


def test_outsider_gets_403_everywhere(oscar_client: Client, make_incident: Any) -> None:
    incident = make_incident()
    for path in [
        LIST,
        NEW,
        detail_url(incident),
        detail_url(incident, "edit"),
        "/incidents/cis/search/",
    ]:
        assert oscar_client.get(path).status_code == 403, path
    for action in ["acknowledge", "resolve", "link"]:
        response = oscar_client.post(detail_url(incident, action), {"resolution_notes": "x"})
        assert response.status_code == 403, action
    response = oscar_client.post(NEW, create_payload())
    assert response.status_code == 403
    assert Incident.objects.count() == 1
    incident.refresh_from_db()
    assert incident.acknowledged_at is None


def test_reader_without_change_permission_sees_no_action_forms(make_incident: Any) -> None:
    incident = make_incident()
    reader = make_user("usr_reader")  # may view incidents, may not change them
    reader.user_permissions.add(Permission.objects.get(codename="view_incident"))
    client = login(reader)
    page = client.get(detail_url(incident)).content.decode()
    assert incident.number in page
    assert detail_url(incident, "acknowledge") not in page
    assert detail_url(incident, "resolve") not in page
    assert detail_url(incident, "edit") not in page
    assert client.post(detail_url(incident, "acknowledge")).status_code == 403
    assert client.get(NEW).status_code == 403
    assert "New incident" not in client.get(LIST).content.decode()


def test_unknown_or_malformed_number_is_404(tina_client: Client) -> None:
    assert tina_client.get("/incidents/INC9999999/").status_code == 404
    assert tina_client.get("/incidents/not-a-number/").status_code == 404
    assert tina_client.get("/incidents/PRB0000001/").status_code == 404
    assert tina_client.post("/incidents/INC9999999/acknowledge/").status_code == 404


# --- Login, logout, layout ------------------------------------------------------------------------


def test_login_page_logs_in_and_logout_is_a_post(client: Client, tina: Any) -> None:
    login_page = client.get(reverse("login"))
    assert login_page.status_code == 200
    assert b'name="username"' in login_page.content
    response = client.post(reverse("login"), {"username": tina.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"  # home: the incident list for those who may read it
    assert client.get("/")["Location"] == LIST
    page = client.get(LIST).content.decode()
    assert tina.username in page
    assert "technician" in page  # roles shown in the header
    assert 'action="/accounts/logout/"' in page
    assert "/api/docs/" in page
    assert ">Admin<" not in page  # tina is not staff
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(LIST).status_code == 302


def test_bad_password_shows_an_error(client: Client, tina: Any) -> None:
    response = client.post(reverse("login"), {"username": tina.username, "password": "nope"})
    assert response.status_code == 200
    assert b"alert--error" in response.content


def test_staff_see_the_admin_link(alice_client: Client) -> None:
    assert ">Admin<" in alice_client.get(LIST).content.decode()


# --- List -----------------------------------------------------------------------------------------


def test_list_shows_incidents(tina_client: Client, make_incident: Any, diamond: Any) -> None:
    incident = make_incident(affected_ci=diamond["db"], impact=1, urgency=1)
    page = tina_client.get(LIST).content.decode()
    assert incident.number in page
    assert "Checkout returns 503" in page
    assert 'class="prio prio--1"' in page
    assert "Orders DB" in page
    assert "1,500" in page  # affected users through the diamond
    assert "UTC" in page


def test_list_filters_and_search(tina: Any, tina_client: Client, make_incident: Any) -> None:
    p1 = make_incident(short_description="Payments down", impact=1, urgency=1)
    p5 = make_incident(short_description="Typo on the FAQ", description="footer link broken")
    mine = make_incident(short_description="VPN flaps", assigned_to=tina)
    services.resolve_incident(incident=p5, actor=tina, resolution_notes="fixed")

    def numbers(query: str) -> set[str]:
        page = tina_client.get(LIST + query).content.decode()
        return set(re.findall(r">(INC\d{7})<", page))

    assert numbers("") == {p1.number, p5.number, mine.number}
    assert numbers("?priority=1") == {p1.number}
    assert numbers("?state=resolved") == {p5.number}
    assert numbers("?state=open") == {p1.number, mine.number}
    assert numbers("?mine=on") == {mine.number}
    assert numbers("?q=footer") == {p5.number}  # description
    assert numbers("?q=payments") == {p1.number}  # short description, any case
    assert numbers(f"?q={mine.number.lower()}") == {mine.number}  # an exact number
    assert numbers("?priority=9&state=bogus") == {p1.number, p5.number, mine.number}  # ignored


def test_list_paginates_by_50_and_keeps_filters(tina_client: Client, make_incident: Any) -> None:
    for i in range(51):
        make_incident(short_description=f"Disk full {i}")
    first = tina_client.get(LIST + "?q=disk").content.decode()
    assert len(re.findall(r">(INC\d{7})<", first)) == 50
    assert "Page 1 of 2" in first
    assert "?q=disk&amp;page=2" in first
    second = tina_client.get(LIST + "?q=disk&page=2").content.decode()
    assert len(re.findall(r">(INC\d{7})<", second)) == 1


def _list_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST)
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow_with_rows(
    tina: Any, tina_client: Client, make_incident: Any, make_ci: Any
) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            make_incident(affected_ci=make_ci(users=3), assigned_to=tina)

    add(5)
    with_5 = _list_queries(tina_client)
    add(45)
    with_50 = _list_queries(tina_client)
    assert with_5 == with_50
    assert with_50 <= 8  # session, user, permissions, roles, count, page


def test_script_in_short_description_is_escaped(tina_client: Client, make_incident: Any) -> None:
    evil = '<script>alert("pwned")</script>'
    incident = make_incident(short_description=evil, description=evil)
    for path in [LIST, detail_url(incident)]:
        page = tina_client.get(path).content.decode()
        assert evil not in page, path
        assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page, path


# --- Create ---------------------------------------------------------------------------------------


def test_new_form_renders_the_matrix_from_services(tina_client: Client) -> None:
    page = tina_client.get(NEW).content.decode()
    match = re.search(r'<script id="priority-matrix" type="application/json">(.*?)</script>', page)
    assert match is not None
    matrix = json.loads(match.group(1))
    for (impact, urgency), priority in services.PRIORITY_MATRIX.items():
        assert matrix[str(impact)][str(urgency)] == priority
    assert 'name="impact"' in page
    assert 'name="urgency"' in page
    assert 'name="priority"' not in page  # the override is for managers only
    assert "js/incident_form.js" in page
    assert "vendor/htmx/htmx.min.js" in page
    assert "cdn" not in page.lower()


def test_technician_creates_an_incident(tina: Any, tina_client: Client, diamond: Any) -> None:
    response = tina_client.post(
        NEW, create_payload(affected_ci=str(diamond["db"].pk), impact="1", urgency="2")
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert response["Location"] == detail_url(incident)
    assert incident.priority == 2
    assert not incident.priority_is_manual
    assert incident.affected_users == 1500
    assert incident.created_by == tina
    assert incident.channel == "phone"
    assert incident.assignment_group == "Payments"

    page = tina_client.get(response["Location"]).content.decode()
    assert incident.number in page
    assert 'class="prio prio--2"' in page
    assert "1,500" in page
    assert "Storefront" in page  # the affected CIs, from the CMDB
    assert f"{incident.number} logged: P2" in page  # the flash message
    assert "Incident logged by usr_tina_tech" in page  # the timeline


def test_create_accepts_a_typed_ci_name_without_javascript(
    tina_client: Client, diamond: Any
) -> None:
    response = tina_client.post(NEW, create_payload(ci_q="orders db"))
    assert response.status_code == 302
    assert Incident.objects.get().affected_ci == diamond["db"]


def test_create_with_errors_shows_them_and_saves_nothing(tina_client: Client) -> None:
    response = tina_client.post(
        NEW,
        create_payload(short_description="", ci_q="No such CI", assigned_to="nobody"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page
    assert "No configuration item is named" in page
    assert "There is no user with that username." in page
    assert Incident.objects.count() == 0


def test_create_domain_error_is_shown_on_the_form(tina_client: Client) -> None:
    response = tina_client.post(NEW, create_payload(impact_started_at="2999-01-01T00:00"))
    assert response.status_code == 400
    assert "Impact started (UTC) must not be in the future" in response.content.decode()
    assert Incident.objects.count() == 0


def test_technician_priority_override_is_ignored(tina_client: Client) -> None:
    response = tina_client.post(NEW, create_payload(impact="3", urgency="3", priority="1"))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.priority == 5
    assert not incident.priority_is_manual


def test_manager_priority_override_is_honoured(alice_client: Client) -> None:
    page = alice_client.get(NEW).content.decode()
    assert 'name="priority"' in page
    response = alice_client.post(NEW, create_payload(impact="3", urgency="3", priority="1"))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.priority == 1
    assert incident.priority_is_manual
    assert "set by hand" in alice_client.get(response["Location"]).content.decode()


def test_manager_without_override_gets_the_matrix(alice_client: Client) -> None:
    alice_client.post(NEW, create_payload(impact="2", urgency="2", priority=""))
    incident = Incident.objects.get()
    assert incident.priority == 3
    assert not incident.priority_is_manual


# --- Edit -----------------------------------------------------------------------------------------


def test_technician_edits_impact_and_priority_follows(
    tina_client: Client, make_incident: Any, diamond: Any
) -> None:
    incident = make_incident(impact=3, urgency=3)
    form = tina_client.get(detail_url(incident, "edit"))
    assert form.status_code == 200
    assert 'name="priority"' not in form.content.decode()
    data = create_payload(
        short_description=incident.short_description,
        impact="1",
        urgency="1",
        state=incident.state,
        affected_ci=str(diamond["checkout"].pk),
        detected_at="",
    )
    response = tina_client.post(detail_url(incident, "edit"), data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.priority == 1
    assert incident.affected_users == 1000  # checkout 200 + storefront 800
    kinds = set(incident.timeline.values_list("kind", flat=True))
    assert TimelineKind.PRIORITY_CHANGED in kinds


def test_edit_records_only_what_changed(tina_client: Client, make_incident: Any) -> None:
    incident = make_incident(short_description="Old title", assignment_group="DBA")
    page = tina_client.get(detail_url(incident, "edit")).content.decode()
    detected = re.search(r'name="detected_at" value="([^"]+)"', page)
    assert detected is not None
    data = create_payload(
        short_description="New title",
        description="",
        channel=incident.channel,
        impact=str(incident.impact),
        urgency=str(incident.urgency),
        assignment_group="DBA",
        state=incident.state,
        detected_at=detected.group(1),  # sent back untouched, as a browser does
    )
    assert tina_client.post(detail_url(incident, "edit"), data).status_code == 302
    update = incident.timeline.get(kind=TimelineKind.UPDATED)
    assert set(update.data["changes"]) == {"short_description"}


def test_edit_refused_state_move_is_shown(tina_client: Client, make_incident: Any) -> None:
    incident = make_incident()
    services.update_incident(incident=incident, actor=None, state=IncidentState.CANCELLED)
    data = create_payload(short_description="x", state=IncidentState.IN_PROGRESS, detected_at="")
    response = tina_client.post(detail_url(incident, "edit"), data)
    assert response.status_code == 400
    assert "cannot move from cancelled to in_progress" in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == IncidentState.CANCELLED


# --- Actions --------------------------------------------------------------------------------------


def test_technician_acknowledges(tina: Any, tina_client: Client, make_incident: Any) -> None:
    incident = make_incident()
    page = tina_client.get(detail_url(incident)).content.decode()
    assert detail_url(incident, "acknowledge") in page
    response = tina_client.post(detail_url(incident, "acknowledge"), follow=True)
    assert response.redirect_chain == [(detail_url(incident), 302)]
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None
    assert incident.state == IncidentState.IN_PROGRESS
    assert incident.assigned_to == tina
    page = response.content.decode()
    assert f"{incident.number} acknowledged." in page
    assert detail_url(incident, "acknowledge") not in page  # nothing left to acknowledge


def test_acknowledge_needs_post(tina_client: Client, make_incident: Any) -> None:
    incident = make_incident()
    assert tina_client.get(detail_url(incident, "acknowledge")).status_code == 405


def test_acknowledging_a_resolved_incident_says_why(
    tina: Any, tina_client: Client, make_incident: Any
) -> None:
    incident = make_incident()
    services.resolve_incident(incident=incident, actor=tina, resolution_notes="done")
    response = tina_client.post(detail_url(incident, "acknowledge"), follow=True)
    assert "is resolved and cannot be acknowledged" in response.content.decode()


def test_resolve_with_blank_notes_changes_nothing(tina_client: Client, make_incident: Any) -> None:
    incident = make_incident()
    before = incident.timeline.count()
    response = tina_client.post(
        detail_url(incident, "resolve"), {"resolution_notes": "   "}, follow=True
    )
    assert response.redirect_chain == [(detail_url(incident) + "#resolve", 303)]
    assert "A resolution note is required." in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW
    assert incident.resolved_at is None
    assert incident.timeline.count() == before


def test_technician_resolves(tina_client: Client, make_incident: Any) -> None:
    incident = make_incident()
    response = tina_client.post(
        detail_url(incident, "resolve"), {"resolution_notes": "Rolled back release 42"}, follow=True
    )
    assert response.redirect_chain == [(detail_url(incident), 302)]
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    assert incident.resolution_notes == "Rolled back release 42"
    page = response.content.decode()
    assert f"{incident.number} resolved." in page
    assert "Rolled back release 42" in page
    assert detail_url(incident, "resolve") not in page


def test_technician_links_to_a_parent(tina_client: Client, make_incident: Any) -> None:
    parent = make_incident(short_description="Storefront down")
    child = make_incident(short_description="Cannot pay")
    response = tina_client.post(
        detail_url(child, "link"), {"parent": parent.number.lower()}, follow=True
    )
    assert response.redirect_chain == [(detail_url(child), 302)]
    child.refresh_from_db()
    assert child.parent == parent
    assert f"linked as a child of {parent.number}" in response.content.decode()
    parent_page = tina_client.get(detail_url(parent)).content.decode()
    assert detail_url(child) in parent_page  # children are listed on the parent
    assert detail_url(parent, "link") not in parent_page  # a parent cannot become a child


def test_link_errors_are_shown(tina_client: Client, make_incident: Any) -> None:
    incident = make_incident()
    link = detail_url(incident, "link")
    response = tina_client.post(link, {"parent": "INC9999999"}, follow=True)
    assert response.redirect_chain == [(detail_url(incident) + "#link", 303)]
    assert "There is no incident INC9999999." in response.content.decode()
    response = tina_client.post(link, {"parent": incident.number}, follow=True)
    assert response.redirect_chain == [(detail_url(incident) + "#link", 303)]
    assert "An incident cannot be its own parent" in response.content.decode()
    incident.refresh_from_db()
    assert incident.parent is None


# --- Detail ---------------------------------------------------------------------------------------


def test_detail_shows_fields_impact_and_timeline(
    tina: Any, tina_client: Client, make_incident: Any, diamond: Any
) -> None:
    incident = make_incident(actor=tina, affected_ci=diamond["checkout"], caller=tina)
    services.acknowledge_incident(incident=incident, actor=tina)
    page = tina_client.get(detail_url(incident)).content.decode()
    for text in ["Checkout", "Storefront", "1,000", "usr_tina_tech", "Incident logged by", "UTC"]:
        assert text in page, text
    assert "Orders DB" not in page.split("Impact through the CMDB")[1].split("Timeline")[0]
    # newest last
    assert page.index("Incident logged by") < page.index("Acknowledged by usr_tina_tech")


# --- CI picker fragments --------------------------------------------------------------------------


def test_ci_search_and_impact_fragments(tina_client: Client, diamond: Any) -> None:
    page = tina_client.get("/incidents/cis/search/", {"ci_q": "pay"}).content.decode()
    assert "Payments" in page
    assert "Storefront" not in page
    assert f'data-ci-id="{diamond["payments"].pk}"' in page
    assert (
        "No configuration item matches"
        in tina_client.get("/incidents/cis/search/", {"ci_q": "zzz"}).content.decode()
    )
    impact = tina_client.get(f"/incidents/cis/{diamond['db'].pk}/impact/").content.decode()
    assert "1,500" in impact
    assert tina_client.get("/incidents/cis/999999/impact/").status_code == 404


def test_403_page_says_who_may_without_codenames(oscar_client: Client) -> None:
    response = oscar_client.get(LIST)
    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page
    assert "Only technicians" in page and "ITSM managers and super admins may see incidents" in page
    assert not re.search(r"\w+\.\w+_\w+", page.split("<main", 1)[1])  # no app.codename
    assert "view_incident" not in page
    assert "usr_oscar_outsider, with no MIM Desk role" in page
