"""Action items over the API: who does what by when, each change a timeline row, overdue ones
flagged; filters; bad input; who may."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents.models import MajorIncident, MIStatus, TimelineEntry, TimelineKind
from tests.conftest import bearer_client
from tests.warroom.conftest import T0, declare, force_status
from warroom import events
from warroom.models import ActionItem, Thread

pytestmark = pytest.mark.django_db


def url(mi: MajorIncident, rest: str = "") -> str:
    return f"/api/major-incidents/{mi.number}/action-items/{rest}"


def add(client: APIClient, mi: MajorIncident, **body: Any) -> Any:
    body.setdefault("title", "Fail over DB")
    return client.post(url(mi), body, format="json")


def rows(mi: MajorIncident) -> list[str]:
    return list(
        TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.ACTION_ITEM)
        .order_by("id")
        .values_list("message", flat=True)
    )


def test_add_an_item_with_owner_due_and_thread(
    bob_api: APIClient,
    bob: Any,
    mi: MajorIncident,
    listen: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    heard = listen(events.action_item_changed)
    Thread.objects.create(major_incident=mi, slug="database", name="Database")
    with django_capture_on_commit_callbacks(execute=True):
        response = add(
            bob_api, mi, owner=bob.username, due="2030-01-01T10:30:00Z", thread="database"
        )
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["title"] == "Fail over DB"
    assert item["owner"] == bob.username
    assert item["due"] == "2030-01-01T10:30:00Z"
    assert item["status"] == "open"
    assert item["thread"] == "database"
    assert item["overdue"] is False
    assert item["created_by"] == bob.username
    assert item["done_at"] is None
    entry = TimelineEntry.objects.get(major_incident=mi, kind=TimelineKind.ACTION_ITEM)
    assert entry.message == (
        f"Action item #{item['id']} “Fail over DB” added by {bob.username} "
        f"(owner {bob.username}, due 2030-01-01 10:30 UTC)"
    )
    assert entry.thread == "database"
    assert entry.actor == bob
    assert heard.calls == [
        {
            "major_incident_id": mi.pk,
            "action_item_id": item["id"],
            "changes": ["created"],
            "actor_id": bob.pk,
        }
    ]
    listed = bob_api.get(url(mi)).json()
    assert [i["id"] for i in listed["results"]] == [item["id"]]
    assert bob_api.get(url(mi, f"{item['id']}/")).json()["title"] == "Fail over DB"


def test_each_change_is_a_timeline_row_and_an_event(
    bob_api: APIClient,
    bob: Any,
    tina: Any,
    mi: MajorIncident,
    listen: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    item_id = add(bob_api, mi).json()["id"]
    heard = listen(events.action_item_changed)

    def patch(**body: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = bob_api.patch(url(mi, f"{item_id}/"), body, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    assert patch(status="in_progress")["status"] == "in_progress"
    done = patch(status="done")
    assert done["done_at"]
    assert patch(owner=tina.username, title="Fail over the DB")["owner"] == tina.username
    reopened = patch(status="open")
    assert reopened["done_at"] is None
    patch(status="open")  # unchanged: no row, no event
    assert rows(mi)[1:] == [
        f"Action item #{item_id} “Fail over DB” → in_progress by {bob.username}",
        f"Action item #{item_id} “Fail over DB” → done by {bob.username}",
        f"Action item #{item_id} “Fail over DB”: title → Fail over the DB, "
        f"owner → {tina.username} by {bob.username}",
        f"Action item #{item_id} “Fail over the DB” → open by {bob.username}",
    ]
    assert [call["changes"] for call in heard.calls] == [
        ["status"],
        ["status"],
        ["owner", "title"],
        ["status"],
    ]
    last = TimelineEntry.objects.filter(kind=TimelineKind.ACTION_ITEM).order_by("-id").first()
    assert last is not None
    assert last.data["changes"] == {"status": {"from": "done", "to": "open"}}


def test_overdue_stands_out_and_filters(bob: Any, tina: Any, mi: MajorIncident) -> None:
    client = APIClient()
    client.force_authenticate(bob)  # tokens and a frozen clock do not mix
    with freeze_time(T0) as clock:
        soon = (T0 + timedelta(minutes=30)).isoformat()
        late = add(client, mi, title="Page the DBA", due=soon, owner=tina.username).json()
        done = add(client, mi, title="Open a bridge", due=soon, status="done").json()
        later = add(client, mi, title="Write the RCA", due=(T0 + timedelta(days=1)).isoformat())
        undated = add(client, mi, title="Coffee").json()
        assert not any(i["overdue"] for i in client.get(url(mi)).json()["results"])
        clock.tick(timedelta(minutes=31))
        listed = {i["title"]: i["overdue"] for i in client.get(url(mi)).json()["results"]}
        assert listed == {
            "Page the DBA": True,
            "Open a bridge": False,
            "Write the RCA": False,
            "Coffee": False,
        }
        overdue = client.get(url(mi), {"overdue": "true"}).json()["results"]
        assert [i["id"] for i in overdue] == [late["id"]]
        not_overdue = client.get(url(mi), {"overdue": "false"}).json()["results"]
        assert late["id"] not in [i["id"] for i in not_overdue]
        assert len(not_overdue) == 3
        by_status = client.get(url(mi), {"status": "done"}).json()["results"]
        assert [i["id"] for i in by_status] == [done["id"]]
        mine = client.get(url(mi), {"owner": tina.username}).json()["results"]
        assert [i["id"] for i in mine] == [late["id"]]
        assert later.status_code == 201 and undated["overdue"] is False


def test_a_bad_filter_is_a_400_naming_it(bob_api: APIClient, mi: MajorIncident) -> None:
    response = bob_api.get(url(mi), {"status": "finished"})
    assert response.status_code == 400
    assert "status" in response.json()
    response = bob_api.get(url(mi), {"overdue": "maybe"})
    assert response.status_code == 400
    assert "overdue" in response.json()


def test_the_list_reads_in_the_same_queries_for_2_and_12_items(
    bob_api: APIClient, bob: Any, mi: MajorIncident
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert bob_api.get(url(mi)).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        add(bob_api, mi, owner=bob.username)
    few = count()
    for _ in range(10):
        add(bob_api, mi, owner=bob.username)
    assert count() == few


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": 7}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "owner": "usr_nobody"}, "owner"),
        ({"title": "ok", "owner": 5}, "owner"),
        ({"title": "ok", "due": "2030-01-01T10:30:00"}, "due"),
        ({"title": "ok", "due": "tomorrow"}, "due"),
        ({"title": "ok", "due": 1700000000}, "due"),
        ({"title": "ok", "status": "finished"}, "status"),
        ({"title": "ok", "thread": "no-such-thread"}, "thread"),
        ({"title": "ok", "thread": 3}, "thread"),
        ({"title": "ok", "thread": "x" * 65}, "thread"),
        ({"title": "ok", "titel": "typo"}, "titel"),
        ({"title": "ok", "id": 3}, "id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    bob_api: APIClient, mi: MajorIncident, body: dict[str, Any], field: str
) -> None:
    response = bob_api.post(url(mi), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not ActionItem.objects.exists()


def test_the_owner_must_be_able_to_see_the_mi(
    bob_api: APIClient, oscar: Any, mi: MajorIncident
) -> None:
    response = add(bob_api, mi, owner=oscar.username)
    assert response.status_code == 400
    assert "may not see" in response.json()["owner"][0]


def test_a_bad_change_is_a_400_and_changes_nothing(bob_api: APIClient, mi: MajorIncident) -> None:
    item_id = add(bob_api, mi).json()["id"]
    for body, field in [
        ({}, "detail"),
        ({"status": "finished"}, "status"),
        ({"due": "2030-01-01 10:00"}, "due"),
        ({"title": None}, "title"),
        ({"created_by": "usr_x"}, "created_by"),
    ]:
        response = bob_api.patch(url(mi, f"{item_id}/"), body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()
    assert len(rows(mi)) == 1


def test_an_item_of_another_mi_is_a_404(
    bob_api: APIClient, alice: Any, mi: MajorIncident, make_incident: Callable[..., Any]
) -> None:
    other = declare(make_incident(short_description="another"), alice)
    item_id = add(bearer_client(alice), other).json()["id"]
    assert (
        bob_api.patch(url(mi, f"{item_id}/"), {"status": "done"}, format="json").status_code == 404
    )


def test_a_technician_outside_the_team_reads_but_may_not_write(
    tina_api: APIClient, bob_api: APIClient, mi: MajorIncident
) -> None:
    item_id = add(bob_api, mi).json()["id"]
    assert tina_api.get(url(mi)).status_code == 200
    assert add(tina_api, mi).status_code == 403
    patch = tina_api.patch(url(mi, f"{item_id}/"), {"status": "done"}, format="json")
    assert patch.status_code == 403
    assert ActionItem.objects.get(pk=item_id).status == "open"


def test_legal_reads_but_may_not_write(lee: Any, mi: MajorIncident) -> None:
    client = bearer_client(lee)
    assert client.get(url(mi)).status_code == 200
    assert add(client, mi).status_code == 403


def test_an_outsider_gets_403(oscar_api: APIClient, mi: MajorIncident) -> None:
    assert oscar_api.get(url(mi)).status_code == 403
    assert add(oscar_api, mi).status_code == 403


def test_a_finished_mi_is_read_only(bob_api: APIClient, mi: MajorIncident) -> None:
    item_id = add(bob_api, mi).json()["id"]
    force_status(mi, MIStatus.CLOSED)
    assert add(bob_api, mi).status_code == 409
    response = bob_api.patch(url(mi, f"{item_id}/"), {"status": "done"}, format="json")
    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    assert bob_api.get(url(mi)).status_code == 200


def test_due_in_another_zone_is_kept_as_that_moment(bob_api: APIClient, mi: MajorIncident) -> None:
    item = add(bob_api, mi, due="2030-01-01T12:30:00+02:00").json()
    assert item["due"] == "2030-01-01T10:30:00Z"
    assert ActionItem.objects.get(pk=item["id"]).due_at == datetime(2030, 1, 1, 10, 30, tzinfo=UTC)
