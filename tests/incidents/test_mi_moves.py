"""One allowed-moves function (issue 6, items 12 and 17): ``selectors.allowed_moves`` says for
each move whether it is possible now and, if not, why and when; the MI page draws its buttons from
it, the API's ``allowed_transitions`` lists it, and the service refuses exactly what it says.
Also: no dead ends on the page (the war room link, forms that survive a refusal)."""

from __future__ import annotations

from datetime import timedelta
from itertools import product
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents import selectors, services
from incidents.errors import DomainError
from incidents.models import MajorIncident, MIStatus, RaciRole
from tests.conftest import bearer_client
from tests.incidents.mi_fixtures import T0, declare, force_status

pytestmark = pytest.mark.django_db


def by_target(moves: list[selectors.Move]) -> dict[str, selectors.Move]:
    return {m.to: m for m in moves}


@pytest.fixture
def monitoring(alice: Any, make_incident: Any) -> MajorIncident:
    """alice's MI, in monitoring since T0 (stability period: 15 min)."""
    with freeze_time(T0 - timedelta(minutes=30)):
        mi = declare(make_incident(), alice)
    with freeze_time(T0):
        return services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)


# --- The selector ---------------------------------------------------------------------------------


def test_resolving_says_when_it_may_happen(monitoring: MajorIncident, alice: Any, sam: Any):
    now = T0 + timedelta(minutes=8, seconds=20)
    resolve = by_target(selectors.allowed_moves(monitoring, alice, now))["resolved"]
    assert (resolve.permitted, resolve.possible, resolve.allowed) == (True, False, False)
    assert resolve.possible_at == T0 + timedelta(minutes=15)
    assert "has been in monitoring for 8 min" in resolve.why
    assert "may be resolved at 09:15 UTC, in 7 min" in resolve.why
    assert resolve.can_override  # alice is the incident commander
    other = by_target(selectors.allowed_moves(monitoring, sam, now))["resolved"]
    assert other.permitted and not other.can_override  # a super admin is not the IC


def test_after_the_stability_period_resolving_is_allowed(monitoring: MajorIncident, alice: Any):
    resolve = by_target(selectors.allowed_moves(monitoring, alice, T0 + timedelta(minutes=15)))
    assert resolve["resolved"].allowed
    assert resolve["resolved"].why == ""


def test_closing_waits_for_the_pir_without_a_time(alice: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.RESOLVED)
    close = by_target(selectors.allowed_moves(mi, alice))["closed"]
    assert not close.allowed
    assert close.possible_at is None
    assert "post-incident review is published" in close.why


def test_who_may_not_move_is_told_why(tina: Any, alice: Any, mi: MajorIncident) -> None:
    services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=tina, actor=alice)
    moves = selectors.allowed_moves(mi, tina)
    assert [m.to for m in moves] == ["investigating", "identified", "monitoring", "cancelled"]
    assert not any(m.permitted for m in moves)
    assert "incident commander or an ITSM manager" in moves[0].why
    assert "itsm_manager or super_admin" in moves[-1].why


@pytest.mark.parametrize("status", list(MIStatus.values))
def test_the_service_refuses_exactly_what_the_selector_says(
    status: str, alice: Any, sam: Any, tina: Any, make_incident: Any
) -> None:
    """Every status × actor × target, at a moment inside the stability period."""
    with freeze_time(T0 - timedelta(minutes=30)):
        mi = declare(make_incident(), alice)
    services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=tina, actor=alice)
    force_status(mi, status, monitoring_started_at=T0)
    now = T0 + timedelta(minutes=5)
    for actor, to in product((alice, sam, tina), MIStatus.values):
        if to == status:
            continue
        with freeze_time(now):
            said = by_target(selectors.allowed_moves(mi, actor, now)).get(to)
            try:
                with transaction.atomic():
                    services.transition_major_incident(mi=mi, to=to, actor=actor, reason="why")
                    raise _RolledBack
            except _RolledBack:
                accepted, refusal = True, ""
            except DomainError as exc:
                accepted, refusal = False, exc.message
        assert accepted == bool(said and said.allowed), (actor.username, status, to, refusal)
        if said and not said.allowed:
            assert refusal == said.why, (actor.username, status, to)


class _RolledBack(Exception):
    pass


# --- The API --------------------------------------------------------------------------------------


def test_allowed_transitions_are_the_callers(tina: Any, alice: Any, mi: MajorIncident) -> None:
    services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=tina, actor=alice)
    as_tina = bearer_client(tina).get(f"/api/major-incidents/{mi.number}/").json()
    assert as_tina["allowed_transitions"] == []  # a scribe may read the MI, not move it
    assert all(not t["allowed"] and t["reason"] for t in as_tina["transitions"])
    as_alice = bearer_client(alice).get(f"/api/major-incidents/{mi.number}/").json()
    assert as_alice["allowed_transitions"] == [
        "investigating",
        "identified",
        "monitoring",
        "cancelled",
    ]


def test_the_list_shows_a_technician_ic_the_moves_of_their_mi_only(
    tina: Any, alice: Any, make_incident: Any
) -> None:
    theirs, other = declare(make_incident(), alice), declare(make_incident(), alice)
    services.assign_role(mi=theirs, role=RaciRole.MAJOR_INCIDENT_MANAGER, user=tina, actor=alice)
    services.assign_role(mi=other, role=RaciRole.SCRIBE, user=tina, actor=alice)
    rows = bearer_client(tina).get("/api/major-incidents/").json()["results"]
    allowed = {row["number"]: row["allowed_transitions"] for row in rows}
    # Cancelling stays an ITSM manager's call, even for the MI's commander.
    assert allowed == {
        theirs.number: ["investigating", "identified", "monitoring"],
        other.number: [],
    }


def test_the_list_costs_the_same_for_5_and_50_read_by_a_team_member(
    tina: Any, make_incident: Any, person: Any
) -> None:
    client = APIClient()
    client.force_authenticate(tina)

    def make(n: int) -> None:
        for i in range(n):
            owner = person(f"usr_owner_{MajorIncident.objects.count()}_{i}", "itsm_manager")
            mi = declare(make_incident(), owner)
            force_status(mi, MIStatus.MONITORING, monitoring_started_at=mi.declared_at)
            services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=tina, actor=owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/major-incidents/?page_size=100")
        assert response.status_code == 200
        assert {t["allowed"] for r in response.json()["results"] for t in r["transitions"]} == {
            False
        }
        return len(queries)

    make(5)
    count()  # the first request also reads what is cached afterwards (properties, permissions)
    five = count()
    make(45)
    assert count() == five


# --- The page -------------------------------------------------------------------------------------


def _page(client: Client, mi: MajorIncident) -> str:
    return client.get(f"/war-rooms/{mi.number}/").content.decode()


def test_the_resolve_button_waits_and_says_until_when(
    browser_for: Any, alice: Any, sam: Any, monitoring: MajorIncident
) -> None:
    with freeze_time(T0 + timedelta(minutes=8)):
        html = _page(browser_for(sam), monitoring)
    wait = html.split('data-testid="move-wait-resolved"', 1)[1].split("</div>", 1)[0]
    assert "disabled" in wait
    assert "may be resolved at 09:15 UTC, in 7 min" in wait
    assert 'name="to" value="resolved"' not in html  # no button that can only fail
    assert 'data-testid="override"' not in html  # sam is not the IC
    with freeze_time(T0 + timedelta(minutes=8)):
        html = _page(browser_for(alice), monitoring)
    assert 'data-testid="override-form"' in html  # the IC may resolve now, with a reason
    with freeze_time(T0 + timedelta(minutes=15)):
        html = _page(browser_for(sam), monitoring)
    assert 'name="to" value="resolved"' in html
    assert 'data-testid="move-wait-resolved"' not in html


def test_the_ic_overrides_from_the_page_with_a_reason(
    browser_for: Any, alice: Any, monitoring: MajorIncident
) -> None:
    client = browser_for(alice)
    with freeze_time(T0 + timedelta(minutes=3)):
        response = client.post(
            f"/major-incidents/{monitoring.number}/transition/",
            {"to": "resolved", "override_stability": "on", "reason": "Vendor confirmed the fix"},
        )
    assert response.status_code == 302
    monitoring.refresh_from_db()
    assert monitoring.status == MIStatus.RESOLVED


def test_close_is_disabled_until_the_pir_is_published(browser_for, alice, mi) -> None:
    force_status(mi, MIStatus.RESOLVED)
    html = _page(browser_for(alice), mi)
    wait = html.split('data-testid="move-wait-closed"', 1)[1].split("</div>", 1)[0]
    assert "disabled" in wait
    assert "post-incident review is published" in wait
    assert 'name="to" value="closed"' not in html


def test_the_mi_page_is_the_war_room_and_links_to_no_loop(
    browser_for: Any, alice: Any, mi: MajorIncident
):
    client = browser_for(alice)
    html = _page(client, mi)
    assert f'href="/war-rooms/{mi.number}/"' not in html  # no link to itself
    assert f'href="/major-incidents/{mi.number}/"' not in html  # nor to the address leading here
    response = client.get(f"/major-incidents/{mi.number}/")
    assert response.status_code == 302
    assert response["Location"] == f"/war-rooms/{mi.number}/"
    assert client.get(response["Location"]).status_code == 200


# --- Post/redirect/get ----------------------------------------------------------------------------


def test_after_a_refused_move_the_page_can_be_reloaded(
    browser_for: Any, alice: Any, mi: MajorIncident
) -> None:
    client = browser_for(alice)
    response = client.post(
        f"/major-incidents/{mi.number}/transition/", {"to": "cancelled", "reason": ""}
    )
    assert response.status_code == 303  # the browser lands on the page with a GET
    assert response["Location"] == f"/war-rooms/{mi.number}/#lifecycle"
    shown = client.get(response["Location"])
    assert shown.status_code == 200
    assert "Cancelling needs a reason" in shown.content.decode()
    reloaded = client.get(response["Location"])
    assert reloaded.status_code == 200
    assert "Cancelling needs a reason" not in reloaded.content.decode()  # shown once


def test_what_was_typed_survives_the_redirect(
    browser_for: Any, alice: Any, mi: MajorIncident
) -> None:
    client = browser_for(alice)
    response = client.post(
        f"/major-incidents/{mi.number}/roles/",
        {"role": "technical_lead", "user": "usr_nobody_here"},
        follow=True,
    )
    html = response.content.decode()
    assert "There is no user with that username." in html
    assert 'value="usr_nobody_here"' in html
    assert '<option value="technical_lead" selected>' in html


def test_a_kept_form_does_not_leak_to_another_mi(
    browser_for: Any, alice: Any, make_incident: Any, mi: MajorIncident
) -> None:
    other = declare(make_incident(), alice)
    client = browser_for(alice)
    client.post(f"/major-incidents/{mi.number}/transition/", {"to": "cancelled", "reason": ""})
    assert "Cancelling needs a reason" not in _page(client, other)
    assert "Cancelling needs a reason" in _page(client, mi)


def test_the_incident_page_forms_redirect_too(browser_for: Any, tina: Any, make_incident: Any):
    incident = make_incident()
    client = browser_for(tina)
    response = client.post(f"/incidents/{incident.number}/resolve/", {"resolution_notes": ""})
    assert response.status_code == 303
    assert response["Location"] == f"/incidents/{incident.number}/#resolve"
    assert "A resolution note is required." in client.get(response["Location"]).content.decode()
