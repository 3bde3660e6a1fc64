"""Action items on the war-room page: add, quick status change and edit (post/redirect/get),
overdue standing out, filters, escaping, who may."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time

from incidents.models import MajorIncident, MIStatus, TimelineEntry, TimelineKind
from tests.warroom.conftest import T0, force_status
from warroom import services
from warroom.models import ActionItem

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('item')</script>"


def panel(mi: MajorIncident) -> str:
    return f"/war-rooms/{mi.number}/action-items/"


def add(client: Client, mi: MajorIncident, **fields: str) -> Any:
    body = {
        "ai-new-title": "Fail over DB",
        "ai-new-owner": "",
        "ai-new-due": "",
        "ai-new-thread": "",
    }
    body.update({f"ai-new-{k}": v for k, v in fields.items()})
    return client.post(panel(mi), body)


def test_add_an_item_on_the_page(web: Callable[[Any], Client], bob: Any, mi: MajorIncident) -> None:
    client = web(bob)
    html = client.get(panel(mi)).content.decode()
    assert 'data-testid="action-item-add"' in html
    response = add(client, mi, owner=bob.username, due="2030-01-01T10:30", thread="command")
    assert response.status_code == 302, response.content.decode()[:500]
    assert response["Location"] == f"/war-rooms/{mi.number}/"
    item = ActionItem.objects.get()
    assert (item.title, item.owner, item.thread) == ("Fail over DB", bob, "command")
    assert item.due_at is not None and item.due_at.isoformat() == "2030-01-01T10:30:00+00:00"
    html = client.get(panel(mi)).content.decode()
    assert "Fail over DB" in html
    assert "2030-01-01 10:30" in html
    assert TimelineEntry.objects.filter(kind=TimelineKind.ACTION_ITEM).count() == 1


def test_a_quick_status_change_and_an_edit(
    web: Callable[[Any], Client], bob: Any, tina: Any, mi: MajorIncident
) -> None:
    item = services.add_action_item(mi=mi, actor=bob, title="Fail over DB")
    client = web(bob)
    response = client.post(
        f"/war-rooms/{mi.number}/action-items/{item.pk}/status/", {"status": "done"}, follow=True
    )
    assert response.status_code == 200
    assert any("is done" in str(m) for m in response.context["messages"])
    item.refresh_from_db()
    assert item.status == "done" and item.done_at is not None
    response = client.post(
        f"/war-rooms/{mi.number}/action-items/{item.pk}/",
        {
            f"ai{item.pk}-title": "Fail over the DB",
            f"ai{item.pk}-owner": tina.username,
            f"ai{item.pk}-due": "",
            f"ai{item.pk}-status": "done",
            f"ai{item.pk}-thread": "",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.title, item.owner) == ("Fail over the DB", tina)
    messages = list(
        TimelineEntry.objects.filter(kind=TimelineKind.ACTION_ITEM)
        .order_by("id")
        .values_list("message", flat=True)
    )
    assert messages[1:] == [
        f"Action item #{item.pk} “Fail over DB” → done by {bob.username}",
        f"Action item #{item.pk} “Fail over DB”: title → Fail over the DB, "
        f"owner → {tina.username} by {bob.username}",
    ]


def test_an_unknown_owner_comes_back_on_the_form(
    web: Callable[[Any], Client], bob: Any, oscar: Any, mi: MajorIncident
) -> None:
    client = web(bob)
    response = add(client, mi, title="Call the vendor", owner="usr_nobody")
    assert response.status_code == 303
    html = client.get(panel(mi)).content.decode()
    assert "There is no user with that username." in html
    assert 'value="Call the vendor"' in html  # what was typed is kept
    add(client, mi, title="Call the vendor", owner=oscar.username)
    html = client.get(panel(mi)).content.decode()
    assert "may not see" in html
    assert not ActionItem.objects.exists()


def test_a_too_long_title_and_a_bad_status_are_refused(
    web: Callable[[Any], Client], bob: Any, mi: MajorIncident
) -> None:
    client = web(bob)
    assert add(client, mi, title="x" * 201).status_code == 303
    assert "at most 200 characters" in client.get(panel(mi)).content.decode()
    item = services.add_action_item(mi=mi, actor=bob, title="ok")
    response = client.post(
        f"/war-rooms/{mi.number}/action-items/{item.pk}/status/", {"status": "finished"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "open"


def test_overdue_items_stand_out(web: Callable[[Any], Client], bob: Any, mi: MajorIncident) -> None:
    with freeze_time(T0) as clock:
        late = services.add_action_item(
            mi=mi, actor=bob, title="Page the DBA", due=T0 + timedelta(minutes=10)
        )
        services.add_action_item(
            mi=mi, actor=bob, title="Write the RCA", due=T0 + timedelta(days=1)
        )
        client = web(bob)
        assert "is-overdue" not in client.get(panel(mi)).content.decode()
        clock.tick(timedelta(minutes=11))
        html = client.get(panel(mi)).content.decode()
    row = re.search(rf'<tr id="action-item-{late.pk}" class="([^"]*)"', html)
    assert row and "is-overdue" in row.group(1)
    assert html.count("is-overdue") == 1
    assert ">Overdue<" in html
    assert "1 overdue" in html


def test_the_filter_shows_only_what_it_asks(
    web: Callable[[Any], Client], bob: Any, mi: MajorIncident
) -> None:
    services.add_action_item(mi=mi, actor=bob, title="Still open")
    services.add_action_item(mi=mi, actor=bob, title="Finished", status="done")
    client = web(bob)
    html = client.get(panel(mi), {"status": "done"}).content.decode()
    assert "Finished" in html and "Still open" not in html
    # A bad value on the page is ignored, not an error.
    html = client.get(panel(mi), {"status": "bogus"}).content.decode()
    assert "Finished" in html and "Still open" in html


def test_script_in_a_title_shows_as_text(
    web: Callable[[Any], Client], bob: Any, tina: Any, mi: MajorIncident
) -> None:
    services.add_action_item(mi=mi, actor=bob, title=SCRIPT)
    for user in (bob, tina):
        html = web(user).get(panel(mi)).content.decode()
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(&#x27;item&#x27;)&lt;/script&gt;" in html


def test_who_may_write_on_the_page(
    web: Callable[[Any], Client], bob: Any, tina: Any, lee: Any, oscar: Any, mi: MajorIncident
) -> None:
    item = services.add_action_item(mi=mi, actor=bob, title="Fail over DB")
    for reader in (tina, lee):
        client = web(reader)
        html = client.get(panel(mi)).content.decode()
        assert "Fail over DB" in html
        assert 'data-testid="action-item-add"' not in html
        assert 'data-testid="action-item-status"' not in html
        assert add(client, mi).status_code == 403
        status_url = f"/war-rooms/{mi.number}/action-items/{item.pk}/status/"
        assert client.post(status_url, {"status": "done"}).status_code == 403
    assert web(oscar).get(panel(mi)).status_code == 403
    assert add(web(oscar), mi).status_code == 403
    assert ActionItem.objects.count() == 1
    assert ActionItem.objects.get().status == "open"
    assert web(bob).post(f"/war-rooms/{mi.number}/action-items/999/status/", {}).status_code == 404


def test_a_closed_mi_is_read_only_on_the_page(
    web: Callable[[Any], Client], bob: Any, mi: MajorIncident
) -> None:
    item = services.add_action_item(mi=mi, actor=bob, title="Fail over DB")
    force_status(mi, MIStatus.CLOSED)
    client = web(bob)
    html = client.get(panel(mi)).content.decode()
    assert "Fail over DB" in html
    assert 'data-testid="action-item-add"' not in html
    response = client.post(
        f"/war-rooms/{mi.number}/action-items/{item.pk}/status/", {"status": "done"}, follow=True
    )
    assert any("closed" in str(m) for m in response.context["messages"])
    response = add(client, mi)
    assert response.status_code == 302
    assert ActionItem.objects.count() == 1


def test_the_panel_reads_in_the_same_queries_for_2_and_12_items(
    web: Callable[[Any], Client], bob: Any, tina: Any, mi: MajorIncident
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = web(bob)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(panel(mi)).status_code == 200
        return len(ctx.captured_queries)

    for owner in (bob, tina):
        services.add_action_item(mi=mi, actor=bob, title="x", owner=owner)
    few = count()
    for n in range(10):
        services.add_action_item(mi=mi, actor=bob, title=f"x{n}", owner=tina)
    assert count() == few
