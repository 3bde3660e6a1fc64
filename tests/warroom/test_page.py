"""The war-room page, /war-rooms/<MI>/: who may open it (as the API's GET of the MI), the old MI
page's redirect, and its header: status, IC, affected users, clocks, bridge and moves."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time

from incidents import services
from incidents.models import MajorIncident, MIStatus, RaciRole
from tests.conftest import bearer_client
from tests.warroom.conftest import T0, declare, force_status

pytestmark = pytest.mark.django_db


def room(mi: MajorIncident | str) -> str:
    return f"/war-rooms/{mi if isinstance(mi, str) else mi.number}/"


def html_of(client: Client, mi: MajorIncident) -> str:
    response = client.get(room(mi))
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def fact(html: str, testid: str) -> str:
    """The text of one header fact (its tags removed, spaces folded)."""
    block = html.split(f'data-testid="{testid}"', 1)[1].split("</div>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", block.split(">", 1)[1]).split())


def moves(html: str) -> set[str]:
    return set(re.findall(r'data-move="([a-z_]+)"', html))


# --- Who may open it ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("alice", 200),  # the IC
        ("bob", 200),  # on the team
        ("sam", 200),  # super admin
        ("tina", 200),  # a technician outside the team reads
        ("lee", 200),  # legal reads MIs (README)
        ("oscar", 403),  # no role: may not
    ],
)
def test_who_may_open_the_war_room_as_in_the_api(
    request: Any, web: Any, mi: MajorIncident, bob: Any, persona: str, code: int
) -> None:
    user = request.getfixturevalue(persona)
    response = web(user).get(room(mi))
    assert response.status_code == code
    # The same answer as the API's GET of the MI.
    assert bearer_client(user).get(f"/api/major-incidents/{mi.number}/").status_code == code
    if code == 403:
        assert "Only " in response.content.decode()  # the refusal says who may


def test_a_user_with_no_role_on_the_team_reads_that_mi_only(
    web: Any, mi: MajorIncident, alice: Any, person: Any, make_incident: Any
) -> None:
    gus = person("usr_gus_guest")
    services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=gus, actor=alice)
    other = declare(make_incident(short_description="Other"), alice)
    client = web(gus)
    assert client.get(room(mi)).status_code == 200
    assert client.get(room(other)).status_code == 403
    assert bearer_client(gus).get(f"/api/major-incidents/{other.number}/").status_code == 403


def test_unknown_malformed_and_lowercase_numbers_are_404(
    web: Any, alice: Any, mi: MajorIncident
) -> None:
    client = web(alice)
    assert client.get(room("MI9999999")).status_code == 404
    assert client.get(room("nonsense")).status_code == 404
    # Resolved as the MI page and the API resolve it: the number as written.
    api = bearer_client(alice)
    lower = mi.number.lower()
    from_api = api.get(f"/api/major-incidents/{lower}/").status_code
    assert client.get(room(lower)).status_code == from_api


def test_the_anonymous_are_sent_to_log_in(mi: MajorIncident) -> None:
    response = Client().get(room(mi))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={room(mi)}"


def test_only_get(web: Any, alice: Any, mi: MajorIncident) -> None:
    assert web(alice).post(room(mi)).status_code == 405


# --- The old MI page leads here -------------------------------------------------------------------


def test_the_mi_page_redirects_to_the_war_room(web: Any, tina: Any, mi: MajorIncident) -> None:
    client = web(tina)
    response = client.get(f"/major-incidents/{mi.number}/")
    assert response.status_code == 302
    assert response["Location"] == room(mi)
    kept = client.get(f"/major-incidents/{mi.number}/?thread=db")
    assert kept["Location"] == room(mi) + "?thread=db"


def test_the_redirect_refuses_as_the_war_room_does(web: Any, oscar: Any, mi: MajorIncident) -> None:
    # Nobody learns from the redirect what the war room would not tell them.
    assert web(oscar).get(f"/major-incidents/{mi.number}/").status_code == 403
    assert Client().get(f"/major-incidents/{mi.number}/")["Location"].startswith("/accounts/login/")
    for number in (mi.number, "MI9999999"):
        old = web(oscar).get(f"/major-incidents/{number}/").status_code
        assert old == web(oscar).get(room(number)).status_code == 403


def test_a_move_goes_back_to_the_war_room(web: Any, alice: Any, mi: MajorIncident) -> None:
    response = web(alice).post(
        f"/major-incidents/{mi.number}/transition/", {"to": "investigating", "reason": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == room(mi)
    mi.refresh_from_db()
    assert mi.status == MIStatus.INVESTIGATING
    assert 'data-testid="mi-status">Investigating<' in html_of(web(alice), mi)


# --- The header -----------------------------------------------------------------------------------


def test_the_header_says_status_ic_users_and_when(web: Any, alice: Any, tina: Any, p1: Any) -> None:
    with freeze_time(T0):
        mi = declare(p1, alice, summary="Card payments fail", bridge_link="https://meet.example/x")
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=T0 + timedelta(minutes=30))
    p1.__class__.objects.filter(pk=p1.pk).update(affected_users=12345)
    with freeze_time(T0 + timedelta(hours=1, minutes=5)):
        html = html_of(web(tina), mi)
    assert 'data-testid="mi-number">' + mi.number in html
    assert 'data-testid="mi-status">Declared<' in html
    assert "Card payments fail" in html
    assert fact(html, "header-ic") == f"Incident commander {alice.username}"
    assert fact(html, "header-users") == "Affected users 12,345"
    assert fact(html, "header-elapsed") == "Since declared 1 h 05 min declared 09:00 UTC"
    assert '<time datetime="2025-03-03T09:00:00+00:00" data-elapsed' in html
    # Due at 09:30, it is 10:05: overdue, and it says so in red (the class).
    assert fact(html, "header-next-update") == (
        "Next stakeholder update overdue by 35 min due 09:30 UTC"
    )
    assert "wr-fact wr-fact--overdue" in html
    assert 'href="https://meet.example/x"' in html and "Join the bridge" in html


def test_the_countdown_before_the_update_is_due_and_when_none_is(
    web: Any, alice: Any, mi: MajorIncident
) -> None:
    MajorIncident.objects.filter(pk=mi.pk).update(
        declared_at=T0, next_update_due_at=T0 + timedelta(minutes=30)
    )
    with freeze_time(T0 + timedelta(minutes=18)):
        html = html_of(web(alice), mi)
    assert fact(html, "header-next-update") == "Next stakeholder update in 12 min due 09:30 UTC"
    assert "wr-fact--overdue" not in html
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=None)
    html = html_of(web(alice), mi)
    assert fact(html, "header-next-update") == "Next stakeholder update —"


def test_a_finished_mi_shows_how_long_it_lasted_and_no_countdown(
    web: Any, alice: Any, mi: MajorIncident
) -> None:
    force_status(
        mi,
        MIStatus.CLOSED,
        declared_at=T0,
        resolved_at=T0 + timedelta(hours=2, minutes=30),
        closed_at=T0 + timedelta(days=2),
        next_update_due_at=T0 + timedelta(hours=3),
    )
    html = html_of(web(alice), mi)
    assert fact(html, "header-elapsed").startswith("Lasted 2 h 30 min")
    assert "data-elapsed" not in html  # it does not tick any more
    assert fact(html, "header-next-update") == "Next stakeholder update —"
    assert moves(html) == set()
    assert "Closed: the war room is read-only." in html
    for form in ("transition-form", "edit-form", "role-form", "milestones-form"):
        assert f'data-testid="{form}"' not in html


def test_no_ic_and_no_bridge_say_so(web: Any, alice: Any, mi: MajorIncident) -> None:
    MajorIncident.objects.filter(pk=mi.pk).update(bridge_link="", bridge_dial_in="")
    mi.role_assignments.update(removed_at=T0)
    html = html_of(web(alice), mi)
    assert fact(html, "header-ic") == "Incident commander None assigned"
    assert "No bridge link" in html
    assert 'data-testid="bridge-join"' not in html


def test_the_dial_in_is_shown(web: Any, tina: Any, mi: MajorIncident) -> None:
    MajorIncident.objects.filter(pk=mi.pk).update(bridge_dial_in="+44 20 7946 0000, 123456#")
    html = html_of(web(tina), mi)
    # Once, in the header's bridge strip (the bridge panel sits there).
    assert html.count('data-testid="bridge-dial-in">+44 20 7946 0000, 123456#<') == 1


def test_the_ic_gets_the_moves_the_others_read(
    web: Any, alice: Any, bob: Any, tina: Any, mi: MajorIncident
) -> None:
    html = html_of(web(alice), mi)
    assert moves(html) == {"investigating", "identified", "monitoring", "cancelled"}
    assert 'data-testid="role-form"' in html and 'data-testid="edit-form"' in html
    assert 'data-testid="milestones-form"' in html
    for reader in (bob, tina):
        html = html_of(web(reader), mi)
        assert moves(html) == set()
        assert 'data-testid="transition-form"' not in html
        assert 'data-testid="role-form"' not in html
        assert "The incident commander and ITSM managers move this MI." in html
        # …but read the roles, what was declared and the milestones.
        assert "Major incident manager (IC)" in html
        assert 'data-testid="impact-statement"' in html
        assert 'data-testid="milestones"' in html


def test_a_move_not_possible_yet_says_when(web: Any, alice: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.MONITORING, monitoring_started_at=T0)
    with freeze_time(T0 + timedelta(minutes=8)):
        html = html_of(web(alice), mi)
    wait = html.split('data-testid="move-wait-resolved"', 1)[1].split("</div>", 1)[0]
    assert "disabled" in wait
    assert "may be resolved at 09:15 UTC, in 7 min" in wait
    assert 'data-testid="override-form"' in html  # the IC may override, with a reason


def test_a_refused_move_comes_back_on_the_war_room(web: Any, alice: Any, mi: MajorIncident) -> None:
    client = web(alice)
    response = client.post(
        f"/major-incidents/{mi.number}/transition/", {"to": "cancelled", "reason": ""}, follow=True
    )
    assert response.redirect_chain == [(room(mi) + "#lifecycle", 303)]
    assert "Cancelling needs a reason" in response.content.decode()
    assert "Cancelling needs a reason" not in html_of(client, mi)  # shown once


def test_every_panel_is_placed(web: Any, tina: Any, mi: MajorIncident) -> None:
    html = html_of(web(tina), mi)
    for area in ("timeline", "scratchpad", "checkpoints", "assessment", "action-items", "bridge"):
        assert f'id="wr-{area}"' in html
    # The timeline comes first in the page, so a phone's one column starts with it.
    assert html.index('id="wr-timeline"') < html.index('id="wr-checkpoints"')
    assert html.index('id="wr-timeline"') < html.index('id="wr-scratchpad"')


# --- Escaping -------------------------------------------------------------------------------------


def test_user_text_in_the_header_is_text(web: Any, alice: Any, make_incident: Any) -> None:
    incident = make_incident(short_description="<script>alert('title')</script>")
    mi = declare(
        incident,
        alice,
        initial_impact_statement="<script>alert('impact')</script> down",
        summary="<script>alert('summary')</script>",
    )
    MajorIncident.objects.filter(pk=mi.pk).update(
        bridge_link="javascript:alert(1)", bridge_dial_in="<img src=x onerror=alert(1)>"
    )
    html = html_of(web(alice), mi)
    assert "<script>alert" not in html
    for what in ("title", "impact", "summary"):
        assert f"&lt;script&gt;alert(&#x27;{what}&#x27;)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html
    assert 'data-testid="bridge-join"' not in html


# --- Queries --------------------------------------------------------------------------------------


def test_the_page_reads_the_same_number_of_queries_for_a_small_and_a_big_team(
    web: Any, alice: Any, mi: MajorIncident, person: Any, make_incident: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = web(alice)
    client.get(room(mi))  # sessions and the seeded properties warm

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(room(mi)).status_code == 200
        return len(queries.captured_queries)

    small = count()
    for n, role in enumerate(
        [RaciRole.SCRIBE, RaciRole.TECHNICAL_LEAD, RaciRole.COMMUNICATIONS_LEAD]
    ):
        services.assign_role(
            mi=mi, role=role, user=person(f"usr_team_{n}", "technician"), actor=alice
        )
    for n in range(4):
        child = make_incident(short_description=f"Me too {n}", impact=3, urgency=3)
        services.link_incident(incident=child, parent=mi.incident, actor=alice)
    assert count() == small


# --- The live header ------------------------------------------------------------------------------


def _poll(client: Client, mi: MajorIncident, drawn: str = "declared") -> Any:
    return client.get(room(mi), {"part": "header", "drawn": drawn}, HTTP_HX_REQUEST="true")


def test_the_header_polls_its_live_part(web: Any, alice: Any, tina: Any, mi: MajorIncident) -> None:
    html = html_of(web(tina), mi)
    assert f'hx-get="/war-rooms/{mi.number}/?part=header&amp;drawn=declared"' in html
    assert 'hx-trigger="every 10s"' in html

    response = _poll(web(tina), mi)
    assert response.status_code == 200
    part = response.content.decode()
    assert "<html" not in part and 'data-testid="transition-form"' not in part
    assert 'id="wr-head-live"' in part
    assert 'data-testid="mi-status">Declared<' in part
    assert 'data-testid="header-stale"' not in part
    assert "HX-Request" in response["Vary"]
    assert "HX-Request" in web(tina).get(room(mi))["Vary"]


def test_the_poll_shows_what_someone_else_changed(
    web: Any, alice: Any, tina: Any, mi: MajorIncident, person: Any
) -> None:
    services.transition_major_incident(mi=mi, to=MIStatus.INVESTIGATING, actor=alice)
    ian = person("usr_ian_ic", "itsm_manager")
    services.assign_role(mi=mi, role=RaciRole.MAJOR_INCIDENT_MANAGER, user=ian, actor=alice)
    part = _poll(web(tina), mi).content.decode()
    assert 'data-testid="mi-status">Investigating<' in part
    assert fact(part, "header-ic") == f"Incident commander {ian.username}"
    # The page's moves were drawn for "declared": it says they are stale, and links to a reload.
    stale = part.split('data-testid="header-stale"', 1)[1].split("</p>", 1)[0]
    assert f"{mi.number} is now investigating" in stale
    assert f'href="/war-rooms/{mi.number}/"' in stale
    # The next poll carries the status the page was drawn with, whatever it is now.
    assert "drawn=declared" in part
    # Drawn for the status it has: nothing stale.
    assert (
        'data-testid="header-stale"' not in _poll(web(tina), mi, "investigating").content.decode()
    )
    # Nonsense in "drawn" is no status at all: taken as the current one.
    assert 'data-testid="header-stale"' not in _poll(web(tina), mi, "<b>x</b>").content.decode()


def test_the_poll_refuses_as_the_page_does(web: Any, oscar: Any, mi: MajorIncident) -> None:
    assert _poll(web(oscar), mi).status_code == 403
    assert _poll(Client(), mi).status_code == 302
    assert _poll(web(oscar), mi).status_code == web(oscar).get(room(mi)).status_code


def test_a_closed_mi_is_not_polled(web: Any, alice: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.CLOSED, resolved_at=T0, closed_at=T0)
    html = html_of(web(alice), mi)
    assert "hx-get" not in html.split('id="wr-head-live"', 1)[1].split(">", 1)[0]
    assert "every 10s" not in html
