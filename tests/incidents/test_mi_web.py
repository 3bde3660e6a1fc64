"""The major-incident web pages: declare form, MI page, lifecycle buttons, roles, milestones,
candidate queue, driven through Django's test client as the suite's personas."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import selectors, services
from incidents.models import (
    AutoDeclarationRule,
    CandidateStatus,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    RaciRole,
)
from tests.conftest import PASSWORD
from tests.incidents.mi_fixtures import declare, force_status

pytestmark = pytest.mark.django_db

User = get_user_model()


def login(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def mi_url(mi: MajorIncident, action: str = "") -> str:
    return f"/major-incidents/{mi.number}/" + (f"{action}/" if action else "")


def room_url(mi: MajorIncident) -> str:
    """The MI's page: its war room (``/major-incidents/<n>/`` redirects there)."""
    return f"/war-rooms/{mi.number}/"


def assert_shown_again(response: Any, page: str) -> None:
    """A refused form: redirected (303) to its page, which shows it again with its errors."""
    assert response.redirect_chain == [(page, 303)]
    assert response.status_code == 200


@pytest.fixture
def p2(make_incident: Any) -> Incident:
    # Priority 2 and no CI: no rule declares it by itself.
    return make_incident(short_description="Payments slow for EU customers", impact=1, urgency=2)


# --- Declaring from the incident page -------------------------------------------------------------


def test_declare_form_is_shown_to_a_manager_and_declares(alice: Any, p2: Incident) -> None:
    client = login(alice)
    page = client.get(f"/incidents/{p2.number}/")
    assert page.status_code == 200
    assert b'data-testid="declare-form"' in page.content
    assert alice.username.encode() in page.content  # the IC box defaults to the current user

    response = client.post(
        f"/incidents/{p2.number}/declare/",
        {
            "major_incident_manager": alice.username,
            "bridge_link": "https://meet.example.com/abc",
            "initial_impact_statement": "EU customers cannot pay",
            "summary": "",
        },
    )
    mi = MajorIncident.objects.get(incident=p2)
    assert response.status_code == 302
    assert response["Location"] == f"/major-incidents/{mi.number}/"
    assert mi.status == MIStatus.DECLARED
    assert selectors.current_commander(mi) == alice
    p2.refresh_from_db()
    assert p2.priority == 1

    # Now the incident page shows a banner instead of the form.
    page = client.get(f"/incidents/{p2.number}/")
    assert b'data-testid="declare-form"' not in page.content
    assert b'data-testid="mi-banner"' in page.content
    assert mi.number.encode() in page.content


def test_declare_needs_an_impact_statement(alice: Any, p2: Incident) -> None:
    response = login(alice).post(
        f"/incidents/{p2.number}/declare/",
        {"major_incident_manager": alice.username, "initial_impact_statement": ""},
        follow=True,
    )
    assert_shown_again(response, f"/incidents/{p2.number}/#declare")
    assert b"An initial impact statement is required." in response.content
    assert not MajorIncident.objects.exists()


def test_declare_with_an_unknown_commander_says_so(alice: Any, p2: Incident) -> None:
    response = login(alice).post(
        f"/incidents/{p2.number}/declare/",
        {"major_incident_manager": "usr_nobody", "initial_impact_statement": "Down"},
        follow=True,
    )
    assert_shown_again(response, f"/incidents/{p2.number}/#declare")
    assert b"There is no user with that username." in response.content


def test_declare_form_is_absent_and_refused_for_a_technician(tina: Any, p2: Incident) -> None:
    client = login(tina)
    page = client.get(f"/incidents/{p2.number}/")
    assert page.status_code == 200
    assert b'data-testid="declare-form"' not in page.content
    response = client.post(
        f"/incidents/{p2.number}/declare/",
        {"major_incident_manager": tina.username, "initial_impact_statement": "Down"},
    )
    assert response.status_code == 403
    assert not MajorIncident.objects.exists()


def test_declare_twice_shows_the_existing_mi(alice: Any, p2: Incident) -> None:
    mi = declare(p2, alice)
    response = login(alice).post(
        f"/incidents/{p2.number}/declare/",
        {"major_incident_manager": alice.username, "initial_impact_statement": "Down"},
        follow=True,
    )
    assert f"already has major incident {mi.number}" in response.content.decode()
    assert MajorIncident.objects.count() == 1


def test_no_declare_form_on_a_resolved_incident(alice: Any, p2: Incident) -> None:
    services.resolve_incident(incident=p2, actor=alice, resolution_notes="Fixed")
    page = login(alice).get(f"/incidents/{p2.number}/")
    assert b'data-testid="declare-form"' not in page.content


# --- The MI page ----------------------------------------------------------------------------------


def test_mi_list_shows_open_ones_first(alice: Any, make_incident: Any) -> None:
    first = declare(make_incident(impact=2, urgency=2), alice)
    second = declare(make_incident(impact=2, urgency=2), alice)
    force_status(second, MIStatus.CANCELLED, cancel_reason="dup")
    third = declare(make_incident(impact=2, urgency=2), alice)
    page = login(alice).get("/major-incidents/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index(third.number) < html.index(first.number) < html.index(second.number)
    assert alice.username in html


def test_mi_page_shows_roles_milestones_and_children(
    alice: Any, tina: Any, mi: MajorIncident, make_incident: Any
) -> None:
    child = make_incident(short_description="Me too", impact=3, urgency=3)
    services.link_incident(incident=child, parent=mi.incident, actor=alice)
    page = login(tina).get(room_url(mi))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="mi-status"' in html and "Declared" in html
    assert mi.incident.number in html
    assert "Major incident manager (IC)" in html
    assert "Declared at" not in html  # labels are human: "Declared"
    assert "War room opened" in html
    assert mi.declared_at.strftime("%Y-%m-%d %H:%M") in html
    assert child.number in html
    assert 'data-testid="child-count">1<' in html
    assert mi.problem is not None and mi.problem.number in html
    assert "declared by" in html.lower()
    # A technician outside the team reads but gets no buttons or forms.
    assert 'data-testid="transition-form"' not in html
    assert 'data-testid="role-form"' not in html
    assert 'data-testid="milestones-form"' not in html


def test_mi_page_404_and_login(alice: Any, mi: MajorIncident) -> None:
    assert login(alice).get("/major-incidents/MI9999999/").status_code == 404
    assert login(alice).get("/major-incidents/nonsense/").status_code == 404
    anonymous = Client().get(room_url(mi))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_outsider_cannot_see_mi_pages(oscar: Any, mi: MajorIncident) -> None:
    assert login(oscar).get(room_url(mi)).status_code == 403
    assert login(oscar).get("/major-incidents/").status_code == 403


def test_the_mi_page_redirects_to_the_war_room(alice: Any, mi: MajorIncident) -> None:
    response = login(alice).get(mi_url(mi))
    assert response.status_code == 302
    assert response["Location"] == room_url(mi)


def test_user_text_is_escaped(alice: Any, p2: Incident) -> None:
    mi = declare(
        p2,
        alice,
        initial_impact_statement="<script>alert('x')</script> checkout down",
        summary="<b>bold</b>",
    )
    # The services refuse such a link now; a row stored before they did must still not link.
    MajorIncident.objects.filter(pk=mi.pk).update(bridge_link="javascript:alert(1)")
    html = login(alice).get(room_url(mi)).content.decode()
    assert "<script>alert('x')</script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    assert 'href="javascript:' not in html
    assert 'data-testid="bridge-join"' not in html


def test_bridge_link_is_a_link_when_https(alice: Any, p2: Incident) -> None:
    mi = declare(p2, alice, bridge_link="https://meet.example.com/abc-defg")
    html = login(alice).get(room_url(mi)).content.decode()
    assert 'href="https://meet.example.com/abc-defg"' in html


# The timeline is the war room's timeline panel now (issue 7).
def test_timeline_shows_the_mi_and_incident_rows(alice: Any, mi: MajorIncident) -> None:
    html = login(alice).get(room_url(mi)).content.decode()
    assert f"{mi.number} declared by" in html
    assert "Created" in html  # the incident's own creation row


# --- Lifecycle buttons ----------------------------------------------------------------------------


def buttons(html: str) -> set[str]:
    import re

    return set(re.findall(r'data-move="([a-z_]+)"', html))


def test_one_button_per_allowed_move(alice: Any, mi: MajorIncident) -> None:
    html = login(alice).get(room_url(mi)).content.decode()
    assert buttons(html) == {"investigating", "identified", "monitoring", "cancelled"}
    force_status(mi, MIStatus.MONITORING, monitoring_started_at=timezone.now())
    html = login(alice).get(room_url(mi)).content.decode()
    # Resolve is shown but disabled until the stability period is over; the IC may override.
    assert buttons(html) == {"investigating", "identified", "resolved", "cancelled", "override"}
    assert 'name="override_stability"' in html
    force_status(mi, MIStatus.CLOSED)
    html = login(alice).get(room_url(mi)).content.decode()
    assert buttons(html) == set()


@pytest.mark.parametrize("to", ["investigating", "identified", "monitoring"])
def test_each_move_button_works(alice: Any, mi: MajorIncident, to: str) -> None:
    response = login(alice).post(mi_url(mi, "transition"), {"to": to, "reason": "progress"})
    assert response.status_code == 302
    mi.refresh_from_db()
    assert mi.status == to


def test_resolve_after_stability_and_regression(alice: Any, mi: MajorIncident) -> None:
    client = login(alice)
    force_status(mi, MIStatus.MONITORING, monitoring_started_at=timezone.now() - timedelta(hours=1))
    assert client.post(mi_url(mi, "transition"), {"to": "resolved"}).status_code == 302
    mi.refresh_from_db()
    assert mi.status == MIStatus.RESOLVED
    assert client.post(mi_url(mi, "transition"), {"to": "investigating"}).status_code == 302
    mi.refresh_from_db()
    assert mi.status == MIStatus.INVESTIGATING


def test_a_refused_move_shows_the_services_sentence(alice: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.MONITORING, monitoring_started_at=timezone.now())
    response = login(alice).post(mi_url(mi, "transition"), {"to": "resolved"}, follow=True)
    assert_shown_again(response, room_url(mi) + "#lifecycle")
    html = response.content.decode()
    assert 'data-testid="transition-error"' in html
    assert "it may be resolved at " in html
    assert "in 15 min (after 15 min of stability)" in html
    mi.refresh_from_db()
    assert mi.status == MIStatus.MONITORING


def test_override_stability_by_the_ic_with_a_reason(alice: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.MONITORING, monitoring_started_at=timezone.now())
    response = login(alice).post(
        mi_url(mi, "transition"),
        {"to": "resolved", "override_stability": "on", "reason": "Vendor confirmed the fix"},
    )
    assert response.status_code == 302
    mi.refresh_from_db()
    assert mi.status == MIStatus.RESOLVED


def test_close_without_pir_is_refused_with_reason(alice: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.RESOLVED, resolved_at=timezone.now())
    response = login(alice).post(mi_url(mi, "transition"), {"to": "closed"}, follow=True)
    assert_shown_again(response, room_url(mi) + "#lifecycle")
    assert "only when its post-incident review is published" in response.content.decode()


def test_cancel_needs_a_reason(alice: Any, mi: MajorIncident) -> None:
    client = login(alice)
    response = client.post(mi_url(mi, "transition"), {"to": "cancelled", "reason": ""}, follow=True)
    assert_shown_again(response, room_url(mi) + "#lifecycle")
    assert "Cancelling needs a reason" in response.content.decode()
    response = client.post(mi_url(mi, "transition"), {"to": "cancelled", "reason": "Duplicate"})
    assert response.status_code == 302
    mi.refresh_from_db()
    assert mi.status == MIStatus.CANCELLED
    assert mi.cancel_reason == "Duplicate"


def test_ic_technician_moves_but_cannot_cancel(alice: Any, tina: Any, mi: MajorIncident) -> None:
    services.assign_role(mi=mi, role=RaciRole.MAJOR_INCIDENT_MANAGER, user=tina, actor=alice)
    client = login(tina)
    html = client.get(room_url(mi)).content.decode()
    assert "investigating" in buttons(html)
    assert "cancelled" not in buttons(html)
    assert (
        client.post(mi_url(mi, "transition"), {"to": "cancelled", "reason": "x"}).status_code == 403
    )
    assert client.post(mi_url(mi, "transition"), {"to": "investigating"}).status_code == 302


def test_technician_outside_the_team_cannot_move(tina: Any, mi: MajorIncident) -> None:
    response = login(tina).post(mi_url(mi, "transition"), {"to": "investigating"})
    assert response.status_code == 403
    mi.refresh_from_db()
    assert mi.status == MIStatus.DECLARED


def test_the_ic_page_asks_guardian_once(alice: Any, tina: Any, mi: MajorIncident) -> None:
    """Whether the viewer may run this MI is asked once; the move buttons are drawn from it.

    Asked of the MI's part of the page (``mi_page_context``): the war room's panels around it ask
    their own questions (may post, may edit the scratchpad).
    """
    from django.test import RequestFactory

    from incidents.web.majors import mi_page_context

    services.assign_role(mi=mi, role=RaciRole.MAJOR_INCIDENT_MANAGER, user=tina, actor=alice)
    request = RequestFactory().get(room_url(mi))
    request.user = User.objects.get(pk=tina.pk)
    request.session = {}  # type: ignore[assignment]
    with CaptureQueriesContext(connection) as queries:
        context = mi_page_context(request, MajorIncident.objects.get(pk=mi.pk))
    assert "investigating" in {move.to for move, _, _ in context["moves"]}
    object_permission_reads = [
        q["sql"] for q in queries.captured_queries if "objectpermission" in q["sql"]
    ]
    # One guardian check: tina's own grants and her groups' grants on this MI.
    assert len(object_permission_reads) == 2
    assert "investigating" in buttons(login(tina).get(room_url(mi)).content.decode())


# --- Roles and milestones -------------------------------------------------------------------------


def test_assign_and_remove_a_role(alice: Any, tina: Any, mi: MajorIncident) -> None:
    client = login(alice)
    response = client.post(mi_url(mi, "roles"), {"role": "technical_lead", "user": tina.username})
    assert response.status_code == 302
    row = mi.role_assignments.get(role="technical_lead", removed_at__isnull=True)
    assert row.user == tina
    html = client.get(room_url(mi)).content.decode()
    assert f"/roles/{row.pk}/remove/" in html
    response = client.post(mi_url(mi, f"roles/{row.pk}/remove"))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.removed_at is not None


def test_ic_handover_and_ic_cannot_be_removed(alice: Any, sam: Any, mi: MajorIncident) -> None:
    client = login(alice)
    assert (
        client.post(
            mi_url(mi, "roles"), {"role": "major_incident_manager", "user": sam.username}
        ).status_code
        == 302
    )
    assert selectors.current_commander(mi) == sam
    ic = mi.role_assignments.get(role="major_incident_manager", removed_at__isnull=True)
    response = client.post(mi_url(mi, f"roles/{ic.pk}/remove"), follow=True)
    assert "always has one incident commander" in response.content.decode()
    assert selectors.current_commander(mi) == sam


def test_ic_may_not_be_technical_lead_shown_on_the_form(alice: Any, mi: MajorIncident) -> None:
    response = login(alice).post(
        mi_url(mi, "roles"), {"role": "technical_lead", "user": alice.username}, follow=True
    )
    assert_shown_again(response, room_url(mi) + "#roles")
    assert "may not also be technical lead" in response.content.decode()


def test_backfill_milestones(alice: Any, mi: MajorIncident) -> None:
    earlier = (mi.declared_at - timedelta(hours=1)).replace(second=0, microsecond=0)
    data = dict.fromkeys(("impact_started_at", "detected_at"), "")
    data["impact_started_at"] = earlier.strftime("%Y-%m-%dT%H:%M")
    data["declared_at"] = mi.declared_at.strftime("%Y-%m-%dT%H:%M")
    response = login(alice).post(mi_url(mi, "milestones"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    mi.refresh_from_db()
    assert mi.impact_started_at == earlier


def test_backfill_out_of_order_is_refused(alice: Any, mi: MajorIncident) -> None:
    later = mi.declared_at + timedelta(minutes=2)
    data = {"detected_at": later.strftime("%Y-%m-%dT%H:%M")}
    for name in ("declared_at",):
        data[name] = mi.declared_at.strftime("%Y-%m-%dT%H:%M")
    response = login(alice).post(mi_url(mi, "milestones"), data, follow=True)
    assert_shown_again(response, room_url(mi) + "#milestones")
    assert "must not be before" in response.content.decode()


# --- Candidate queue ------------------------------------------------------------------------------


@pytest.fixture
def candidate(p2: Incident) -> MajorIncidentCandidate:
    rule = AutoDeclarationRule.objects.order_by("order").first()
    assert rule is not None
    return MajorIncidentCandidate.objects.create(
        incident=p2, rule=rule, reason="P2, unacknowledged for 20 min (limit 15)"
    )


def test_candidate_page_lists_pending(alice: Any, candidate: MajorIncidentCandidate) -> None:
    page = login(alice).get("/major-incidents/candidates/")
    assert page.status_code == 200
    html = page.content.decode()
    assert candidate.incident.number in html
    assert "unacknowledged for 20 min" in html
    assert candidate.rule is not None and candidate.rule.name in html


def test_candidate_page_refused_to_technician(tina: Any, candidate: MajorIncidentCandidate) -> None:
    assert login(tina).get("/major-incidents/candidates/").status_code == 403
    url = f"/major-incidents/candidates/{candidate.pk}/accept/"
    assert login(tina).post(url).status_code == 403


def test_accept_candidate_declares(alice: Any, candidate: MajorIncidentCandidate) -> None:
    response = login(alice).post(f"/major-incidents/candidates/{candidate.pk}/accept/")
    mi = MajorIncident.objects.get(incident=candidate.incident)
    assert response.status_code == 302
    assert response["Location"] == room_url(mi)
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.ACCEPTED
    assert selectors.current_commander(mi) == alice


def test_reject_candidate_needs_a_reason(sam: Any, candidate: MajorIncidentCandidate) -> None:
    client = login(sam)
    url = f"/major-incidents/candidates/{candidate.pk}/reject/"
    response = client.post(url, {f"c{candidate.pk}-reason": ""}, follow=True)
    assert_shown_again(response, f"/major-incidents/candidates/#candidate-{candidate.pk}")
    assert "Rejecting a proposal needs a reason." in response.content.decode()
    response = client.post(url, {f"c{candidate.pk}-reason": "Known maintenance"})
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.REJECTED
    assert not MajorIncident.objects.exists()
    page = client.get("/major-incidents/candidates/").content.decode()
    assert "No pending candidates" in page
    assert "Known maintenance" in page


def test_nav_links(alice: Any, tina: Any) -> None:
    html = login(alice).get("/major-incidents/").content.decode()
    assert 'href="/major-incidents/" aria-current="page"' in html
    assert 'href="/major-incidents/candidates/"' in html
    html = login(tina).get("/incidents/").content.decode()
    assert 'href="/major-incidents/"' in html
    assert 'href="/major-incidents/candidates/"' not in html
