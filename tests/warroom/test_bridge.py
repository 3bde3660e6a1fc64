"""The bridge: its link and dial-in, who joins and leaves (each a timeline row with its time),
who is on now; a second join is a 409, also when two arrive at once; who may record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents.models import MajorIncident, MIStatus, TimelineEntry, TimelineKind
from tests.conftest import bearer_client
from tests.warroom.conftest import T0, force_status
from warroom import events
from warroom.models import BridgeAttendance

pytestmark = pytest.mark.django_db


def url(mi: MajorIncident) -> str:
    return f"/api/major-incidents/{mi.number}/bridge/attendees/"


def record(client: APIClient, mi: MajorIncident, user: Any, action: str) -> Any:
    username = user if isinstance(user, str) else user.username
    return client.post(url(mi), {"user": username, "action": action}, format="json")


def bridge_rows(mi: MajorIncident) -> list[tuple[str, str]]:
    return [
        (row.kind, row.message)
        for row in TimelineEntry.objects.filter(
            major_incident=mi, kind__in=[TimelineKind.BRIDGE_JOINED, TimelineKind.BRIDGE_LEFT]
        ).order_by("id")
    ]


def test_join_and_leave_with_times_in_the_timeline(
    bob: Any,
    alice: Any,
    mi: MajorIncident,
    listen: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    joined, left = listen(events.attendee_joined), listen(events.attendee_left)
    client = APIClient()
    client.force_authenticate(bob)  # tokens and a frozen clock do not mix
    with freeze_time(T0 + timedelta(hours=1)) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            response = record(client, mi, bob, "join")
        assert response.status_code == 201, response.content
        stay = response.json()
        assert stay["user"] == bob.username
        assert stay["joined_at"] == "2025-03-03T10:00:00Z"
        assert stay["left_at"] is None
        assert stay["on_bridge"] is True
        assert stay["recorded_by"] == bob.username
        clock.tick(timedelta(minutes=3))
        assert record(client, mi, alice, "join").status_code == 201  # bob records alice
        body = client.get(url(mi)).json()
        assert [s["user"] for s in body["on_now"]] == [bob.username, alice.username]
        clock.tick(timedelta(minutes=42))
        with django_capture_on_commit_callbacks(execute=True):
            response = record(client, mi, bob, "leave")
        assert response.status_code == 200, response.content
        assert response.json()["left_at"] == "2025-03-03T10:45:00Z"
        assert response.json()["on_bridge"] is False
        body = client.get(url(mi)).json()
    assert [s["user"] for s in body["on_now"]] == [alice.username]
    assert [(s["user"], s["on_bridge"]) for s in body["history"]] == [
        (alice.username, True),
        (bob.username, False),
    ]
    assert bridge_rows(mi) == [
        ("bridge_joined", f"{bob.username} joined the bridge at 10:00 UTC"),
        (
            "bridge_joined",
            f"{alice.username} joined the bridge at 10:03 UTC (recorded by {bob.username})",
        ),
        ("bridge_left", f"{bob.username} left the bridge at 10:45 UTC after 45 min"),
    ]
    assert joined.calls == [{"major_incident_id": mi.pk, "user_id": bob.pk, "actor_id": bob.pk}]
    assert left.calls == [{"major_incident_id": mi.pk, "user_id": bob.pk, "actor_id": bob.pk}]


def test_the_bridge_link_and_dial_in_are_shown(
    bob_api: APIClient, alice_api: APIClient, mi: MajorIncident
) -> None:
    response = alice_api.patch(
        f"/api/major-incidents/{mi.number}/",
        {"bridge_link": "https://meet.example/mi", "bridge_dial_in": " +1 555 0100, 4242# "},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["bridge_dial_in"] == "+1 555 0100, 4242#"
    body = bob_api.get(url(mi)).json()
    assert body["bridge_link"] == "https://meet.example/mi"
    assert body["bridge_dial_in"] == "+1 555 0100, 4242#"
    mi.refresh_from_db()
    assert mi.bridge_dial_in == "+1 555 0100, 4242#"
    row = TimelineEntry.objects.filter(major_incident=mi, data__field="bridge_dial_in").get()
    assert "bridge dial in changed" in row.message
    cleared = alice_api.patch(
        f"/api/major-incidents/{mi.number}/", {"bridge_dial_in": None}, format="json"
    )
    assert cleared.json()["bridge_dial_in"] is None


@pytest.mark.parametrize("value", ["x" * 201, ["a"], {"a": 1}])
def test_a_bad_dial_in_is_a_400(alice_api: APIClient, mi: MajorIncident, value: Any) -> None:
    response = alice_api.patch(
        f"/api/major-incidents/{mi.number}/", {"bridge_dial_in": value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "bridge_dial_in" in response.json()


def test_a_second_join_is_a_409_and_leaving_when_not_on_too(
    bob_api: APIClient, bob: Any, mi: MajorIncident
) -> None:
    assert record(bob_api, mi, bob, "leave").status_code == 409
    assert record(bob_api, mi, bob, "join").status_code == 201
    again = record(bob_api, mi, bob, "join")
    assert again.status_code == 409
    assert "already" in again.json()["detail"]
    assert record(bob_api, mi, bob, "leave").status_code == 200
    assert record(bob_api, mi, bob, "leave").status_code == 409
    assert record(bob_api, mi, bob, "join").status_code == 201  # a second stay
    assert BridgeAttendance.objects.filter(user=bob).count() == 2


def test_the_database_refuses_two_open_stays(bob: Any, mi: MajorIncident) -> None:
    # What the service falls back on when two joins pass its check at once.
    BridgeAttendance.objects.create(major_incident=mi, user=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        BridgeAttendance.objects.create(major_incident=mi, user=bob)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "join"}, "user"),
        ({"user": "usr_nobody", "action": "join"}, "user"),
        ({"user": None, "action": "join"}, "user"),
        ({"user": "usr_bob_builder"}, "action"),
        ({"user": "usr_bob_builder", "action": "dance"}, "action"),
        ({"user": "usr_bob_builder", "action": "join", "at": "now"}, "at"),
        ({"user": "x" * 10_000, "action": "join"}, "user"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    bob_api: APIClient, mi: MajorIncident, body: dict[str, Any], field: str
) -> None:
    response = bob_api.post(url(mi), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_only_someone_who_may_see_the_mi_can_be_on_its_bridge(
    bob_api: APIClient, oscar: Any, tina: Any, mi: MajorIncident
) -> None:
    refused = record(bob_api, mi, oscar, "join")
    assert refused.status_code == 400
    assert "may not see" in refused.json()["user"][0]
    assert record(bob_api, mi, tina, "join").status_code == 201  # tina reads the MI


def test_a_technician_outside_the_team_reads_but_may_not_record(
    tina_api: APIClient, tina: Any, bob: Any, mi: MajorIncident
) -> None:
    assert tina_api.get(url(mi)).status_code == 200
    assert record(tina_api, mi, tina, "join").status_code == 403  # not even herself
    assert record(tina_api, mi, bob, "join").status_code == 403
    assert not BridgeAttendance.objects.exists()


def test_legal_reads_but_may_not_record(lee: Any, mi: MajorIncident) -> None:
    client = bearer_client(lee)
    assert client.get(url(mi)).status_code == 200
    assert record(client, mi, lee, "join").status_code == 403


def test_an_outsider_gets_403(oscar_api: APIClient, oscar: Any, mi: MajorIncident) -> None:
    assert oscar_api.get(url(mi)).status_code == 403
    assert record(oscar_api, mi, oscar, "join").status_code == 403


def test_a_finished_mi_is_read_only(bob_api: APIClient, bob: Any, mi: MajorIncident) -> None:
    record(bob_api, mi, bob, "join")
    force_status(mi, MIStatus.CANCELLED)
    refused = record(bob_api, mi, bob, "leave")
    assert refused.status_code == 409
    assert "cancelled" in refused.json()["detail"]
    assert bob_api.get(url(mi)).status_code == 200


def test_the_stay_keeps_real_time(bob_api: APIClient, bob: Any, mi: MajorIncident) -> None:
    before = timezone.now()
    stay = BridgeAttendance.objects.get(pk=record(bob_api, mi, bob, "join").json()["id"])
    assert before <= stay.joined_at <= timezone.now()


def test_the_attendees_read_in_the_same_queries_for_2_and_10_stays(
    bob_api: APIClient, bob: Any, person: Callable[..., Any], mi: MajorIncident
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from warroom import services

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert bob_api.get(url(mi)).status_code == 200
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
