"""Threads of the war room (issue 7, item 2): the implied command thread, subsystem threads with
an owner, over the API, the service and the page."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents import services as incident_services
from incidents.models import MajorIncident, MIStatus, RaciRole, TimelineEntry, TimelineKind
from tests.warroom.conftest import force_status
from warroom import events, services
from warroom.models import Thread

pytestmark = pytest.mark.django_db


def url(mi: MajorIncident) -> str:
    return f"/api/major-incidents/{mi.number}/threads/"


def test_every_mi_has_its_command_thread_owned_by_the_ic(
    tina_api: APIClient, alice: Any, mi: MajorIncident, person: Any
) -> None:
    response = tina_api.get(url(mi))
    assert response.status_code == 200
    assert response.json() == [
        {
            "slug": "command",
            "name": "Command",
            "owner": alice.username,
            "created_at": response.json()[0]["created_at"],
            "command": True,
        }
    ]
    successor = person("usr_ivy_ic", "itsm_manager")
    incident_services.assign_role(
        mi=mi, actor=alice, role=RaciRole.MAJOR_INCIDENT_MANAGER, user=successor
    )
    assert tina_api.get(url(mi)).json()[0]["owner"] == successor.username


def test_the_team_opens_a_thread_with_an_owner(
    bob: Any, bob_api: APIClient, tina: Any, mi: MajorIncident
) -> None:
    response = bob_api.post(url(mi), {"name": "Payments DB", "owner": tina.username}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["slug"], data["name"], data["owner"], data["command"]) == (
        "payments-db",
        "Payments DB",
        tina.username,
        False,
    )
    thread = Thread.objects.get(major_incident=mi, slug="payments-db")
    assert (thread.owner, thread.created_by) == (tina, bob)
    row = TimelineEntry.objects.get(kind=TimelineKind.THREAD_OPENED)
    assert (row.thread, row.actor, row.major_incident) == ("payments-db", bob, mi)
    assert "Payments DB" in row.message and tina.username in row.message
    listed = bob_api.get(url(mi)).json()
    assert [t["slug"] for t in listed] == ["command", "payments-db"]
    # The owner defaults to whoever opens it; the same name again gets its own slug.
    again = bob_api.post(url(mi), {"name": "payments  db"}, format="json").json()
    assert (again["slug"], again["owner"]) == ("payments-db-2", bob.username)
    third = services.open_thread(mi=mi, actor=bob, name="Payments DB")
    assert third.slug == "payments-db-3"


def test_posts_go_in_an_open_thread(bob: Any, bob_api: APIClient, mi: MajorIncident) -> None:
    thread = services.open_thread(mi=mi, actor=bob, name="Cache")
    body = {"body": "hit rate 3%", "thread": thread.slug, "kind": "finding"}
    response = bob_api.post(f"/api/major-incidents/{mi.number}/timeline/", body, format="json")
    assert response.status_code == 201
    assert response.json()["thread"] == "cache"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": 5}, "name"),
        ({}, "name"),
        ({"name": "Command"}, "name"),
        ({"name": "db\x00"}, "name"),
        ({"name": " command "}, "name"),
        ({"name": "db", "owner": "usr_nobody"}, "owner"),
        ({"name": "db", "owner": "usr_oscar_outsider"}, "owner"),
        ({"name": "db", "owner": 7}, "owner"),
        ({"name": "db", "slug": "mine"}, "slug"),
    ],
)
def test_bad_threads_are_400s_naming_the_field(
    bob_api: APIClient, oscar: Any, mi: MajorIncident, body: dict[str, Any], field: str
) -> None:
    response = bob_api.post(url(mi), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Thread.objects.exists()


def test_a_name_without_letters_still_gets_a_slug(bob: Any, mi: MajorIncident) -> None:
    assert services.open_thread(mi=mi, actor=bob, name="!!!").slug == "thread"
    # slugify keeps ASCII only: a name in another script is a "thread" too, told apart by number.
    assert services.open_thread(mi=mi, actor=bob, name="Ωμέγα").slug == "thread-2"


def test_who_may_not_open_a_thread(
    tina_api: APIClient,
    oscar_api: APIClient,
    lee: Any,
    as_user: Any,
    api: APIClient,
    mi: MajorIncident,
) -> None:
    for client in (tina_api, oscar_api, as_user(lee)):
        response = client.post(url(mi), {"name": "mine"}, format="json")
        assert response.status_code == 403, response.content
    assert api.post(url(mi), {"name": "mine"}, format="json").status_code == 401
    assert oscar_api.get(url(mi)).status_code == 403
    assert as_user(lee).get(url(mi)).status_code == 200
    assert tina_api.get("/api/major-incidents/MI0009999/threads/").status_code == 404
    assert not Thread.objects.exists()


@pytest.mark.parametrize("status", [MIStatus.CLOSED, MIStatus.CANCELLED])
def test_a_closed_mi_opens_no_thread(bob_api: APIClient, mi: MajorIncident, status: str) -> None:
    force_status(mi, status)
    response = bob_api.post(url(mi), {"name": "late"}, format="json")
    assert response.status_code == 409
    assert status in response.json()["detail"]
    assert bob_api.get(url(mi)).status_code == 200


def test_thread_opened_is_sent_after_commit(
    bob: Any,
    bob_api: APIClient,
    mi: MajorIncident,
    listen: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    opened = listen(events.thread_opened)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert bob_api.post(url(mi), {"name": "DNS"}, format="json").status_code == 201
    assert opened.calls == []
    for callback in callbacks:
        callback()
    thread = Thread.objects.get()
    assert opened.calls == [
        {
            "major_incident_id": mi.pk,
            "thread_id": thread.pk,
            "owner_id": bob.pk,
            "actor_id": bob.pk,
        }
    ]


def test_script_in_a_thread_name_is_text(
    bob: Any, bob_api: APIClient, web: Any, mi: MajorIncident
) -> None:
    name = "<script>alert(1)</script> DB"
    data = bob_api.post(url(mi), {"name": name}, format="json").json()
    assert data["name"] == name  # raw in JSON; the page escapes it
    page = web(bob).get(f"/war-rooms/{mi.number}/timeline/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; DB" in page


# --- The page's form ------------------------------------------------------------------------------


def test_the_page_opens_a_thread(bob: Any, tina: Any, web: Any, mi: MajorIncident) -> None:
    response = web(bob).post(
        f"/war-rooms/{mi.number}/threads/open/", {"name": "Queue", "owner": tina.username}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/war-rooms/{mi.number}/#threads"
    assert Thread.objects.get().owner == tina


def test_the_page_keeps_a_refused_thread_form(bob: Any, web: Any, mi: MajorIncident) -> None:
    client = web(bob)
    response = client.post(f"/war-rooms/{mi.number}/threads/open/", {"name": "Command"})
    assert response.status_code == 303
    assert not Thread.objects.exists()
    assert "command thread already" in str(client.session.get("mim_refused_forms"))


def test_outsiders_may_not_open_threads_on_the_page(
    tina: Any, oscar: Any, web: Any, mi: MajorIncident
) -> None:
    assert web(tina).post(f"/war-rooms/{mi.number}/threads/open/", {"name": "x"}).status_code == 403
    assert (
        web(oscar).post(f"/war-rooms/{mi.number}/threads/open/", {"name": "x"}).status_code == 403
    )
    assert not Thread.objects.exists()


def test_the_admin_shows_threads_read_only(bob: Any, root: Any, mi: MajorIncident) -> None:
    from django.test import Client

    thread = services.open_thread(mi=mi, actor=bob, name="<b>Edge</b>")
    client = Client()
    client.force_login(root)
    listing = client.get("/admin/warroom/thread/")
    assert listing.status_code == 200
    assert "&lt;b&gt;Edge&lt;/b&gt;" in listing.content.decode()
    assert client.get("/admin/warroom/thread/add/").status_code == 403
    change = client.post(f"/admin/warroom/thread/{thread.pk}/change/", {"name": "renamed"})
    assert change.status_code == 403
    assert Thread.objects.get().name == "<b>Edge</b>"
