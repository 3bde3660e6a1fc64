"""The bridge on the war-room page: the join button (http(s) links only), the dial-in, who is
on now, "I joined" / "I left", recording someone else, escaping, who may."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time

from incidents.models import MajorIncident, MIStatus, TimelineEntry, TimelineKind
from tests.incidents.conftest import admin_form  # noqa: F401  (the fixture)
from tests.warroom.conftest import T0, force_status
from warroom import services
from warroom.models import BridgeAttendance

pytestmark = pytest.mark.django_db


def panel(mi: MajorIncident) -> str:
    return f"/war-rooms/{mi.number}/bridge/"


def record(client: Client, mi: MajorIncident, action: str, user: str = "") -> Any:
    return client.post(
        f"/war-rooms/{mi.number}/bridge/attendees/",
        {"bridge-user": user, "bridge-action": action},
    )


def test_the_join_button_and_the_dial_in(
    web: Callable[[Any], Client], tina: Any, mi: MajorIncident
) -> None:
    MajorIncident.objects.filter(pk=mi.pk).update(
        bridge_link="https://meet.example/mi?a=1&b=2", bridge_dial_in="+1 555 0100 <b>42</b>"
    )
    html = web(tina).get(panel(mi)).content.decode()
    assert (
        '<a class="btn btn--primary" href="https://meet.example/mi?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer" data-testid="bridge-join">Join the bridge ↗</a>'
    ) in html
    assert "+1 555 0100 &lt;b&gt;42&lt;/b&gt;" in html


def test_a_link_that_is_not_http_is_no_button(
    web: Callable[[Any], Client], tina: Any, mi: MajorIncident
) -> None:
    # Stored as an older row might have it (the service refuses it today).
    MajorIncident.objects.filter(pk=mi.pk).update(bridge_link="javascript:alert(1)")
    html = web(tina).get(panel(mi)).content.decode()
    assert 'data-testid="bridge-join"' not in html
    assert 'href="javascript:' not in html
    assert "javascript:alert(1)" in html  # shown as text


def test_i_joined_and_i_left(web: Callable[[Any], Client], bob: Any, mi: MajorIncident) -> None:
    client = web(bob)
    with freeze_time(T0 + timedelta(hours=1)) as clock:
        assert "I joined" in client.get(panel(mi)).content.decode()
        response = record(client, mi, "join")
        assert response.status_code == 302
        assert response["Location"] == f"/war-rooms/{mi.number}/#bridge"
        html = client.get(panel(mi)).content.decode()
        assert f'{bob.username} <span class="muted small">since 10:00 UTC</span>' in html
        assert "I left" in html and "I joined" not in html
        clock.tick(timedelta(minutes=20))
        response = client.post(
            f"/war-rooms/{mi.number}/bridge/attendees/",
            {"bridge-user": "", "bridge-action": "leave"},
            follow=True,
        )
        assert any(str(m) == "You left the bridge." for m in response.context["messages"])
        html = client.get(panel(mi)).content.decode()
    assert "Nobody recorded on the bridge." in html
    assert f"{bob.username} · 10:00–10:20 UTC" in html
    kinds = list(
        TimelineEntry.objects.filter(
            kind__in=[TimelineKind.BRIDGE_JOINED, TimelineKind.BRIDGE_LEFT]
        ).values_list("kind", flat=True)
    )
    assert kinds == ["bridge_joined", "bridge_left"]


def test_record_someone_else_and_a_second_join_is_a_message(
    web: Callable[[Any], Client], bob: Any, tina: Any, mi: MajorIncident
) -> None:
    client = web(bob)
    assert record(client, mi, "join", tina.username).status_code == 302
    assert BridgeAttendance.objects.get().user == tina
    response = client.post(
        f"/war-rooms/{mi.number}/bridge/attendees/",
        {"bridge-user": tina.username, "bridge-action": "join"},
        follow=True,
    )
    assert any("already" in str(m) for m in response.context["messages"])
    assert BridgeAttendance.objects.count() == 1


def test_an_unknown_or_outside_user_comes_back_on_the_form(
    web: Callable[[Any], Client], bob: Any, oscar: Any, mi: MajorIncident
) -> None:
    client = web(bob)
    assert record(client, mi, "join", "usr_nobody").status_code == 303
    assert "There is no user with that username." in client.get(panel(mi)).content.decode()
    assert record(client, mi, "join", oscar.username).status_code == 303
    assert "may not see" in client.get(panel(mi)).content.decode()
    assert record(client, mi, "dance").status_code == 303
    assert not BridgeAttendance.objects.exists()


def test_names_show_as_text(
    web: Callable[[Any], Client], bob: Any, person: Callable[..., Any], mi: MajorIncident
) -> None:
    odd = person("<script>x</script>", "technician")
    services.join_bridge(mi=mi, actor=bob, user=odd)
    html = web(bob).get(panel(mi)).content.decode()
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_who_may_record_on_the_page(
    web: Callable[[Any], Client], tina: Any, lee: Any, oscar: Any, mi: MajorIncident
) -> None:
    for reader in (tina, lee):
        client = web(reader)
        html = client.get(panel(mi)).content.decode()
        assert 'data-testid="bridge-me"' not in html
        assert record(client, mi, "join").status_code == 403
    assert web(oscar).get(panel(mi)).status_code == 403
    assert record(web(oscar), mi, "join").status_code == 403
    assert not BridgeAttendance.objects.exists()


def test_a_cancelled_mi_is_read_only_on_the_page(
    web: Callable[[Any], Client], bob: Any, mi: MajorIncident
) -> None:
    force_status(mi, MIStatus.CANCELLED)
    client = web(bob)
    assert 'data-testid="bridge-me"' not in client.get(panel(mi)).content.decode()
    response = client.post(
        f"/war-rooms/{mi.number}/bridge/attendees/",
        {"bridge-user": "", "bridge-action": "join"},
        follow=True,
    )
    assert any("cancelled" in str(m) for m in response.context["messages"])
    assert not BridgeAttendance.objects.exists()


def test_the_mi_edit_form_takes_the_dial_in(
    web: Callable[[Any], Client], alice: Any, mi: MajorIncident
) -> None:
    client = web(alice)
    html = client.get(f"/war-rooms/{mi.number}/").content.decode()
    assert 'name="edit-bridge_dial_in"' in html
    response = client.post(
        f"/major-incidents/{mi.number}/edit/",
        {
            "edit-impact_statement": mi.impact_statement,
            "edit-summary": mi.summary,
            "edit-bridge_link": "",
            "edit-bridge_dial_in": "+44 20 7946 0000, PIN 1234#",
        },
    )
    assert response.status_code == 302
    mi.refresh_from_db()
    assert mi.bridge_dial_in == "+44 20 7946 0000, PIN 1234#"
    page = client.get(f"/war-rooms/{mi.number}/").content.decode()
    assert "+44 20 7946 0000, PIN 1234#" in page


def test_the_panel_reads_in_the_same_queries_for_2_and_10_stays(
    web: Callable[[Any], Client], bob: Any, person: Callable[..., Any], mi: MajorIncident
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = web(bob)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(panel(mi)).status_code == 200
        return len(ctx.captured_queries)

    def stays(names: range) -> None:
        for n in names:
            user = person(f"usr_t{n}", "technician")
            services.join_bridge(mi=mi, actor=bob, user=user)
            if n % 2:
                services.leave_bridge(mi=mi, actor=bob, user=user)

    stays(range(2))
    few = count()
    stays(range(2, 10))
    assert count() == few


def test_the_admin_saves_the_dial_in_through_the_service(
    web: Callable[[Any], Client],
    root: Any,
    mi: MajorIncident,
    admin_form: Any,  # noqa: F811 (the fixture imported above)
) -> None:
    client = web(root)
    url = f"/admin/incidents/majorincident/{mi.pk}/change/"
    data = admin_form(client.get(url))
    data.update({"bridge_dial_in": "+1 555 0199, 777#", "_save": "Save"})
    assert client.post(url, data).status_code == 302
    mi.refresh_from_db()
    assert mi.bridge_dial_in == "+1 555 0199, 777#"
    assert TimelineEntry.objects.filter(major_incident=mi, data__field="bridge_dial_in").exists()
