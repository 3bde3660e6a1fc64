"""Scheduled maintenance: ``/api/scheduled-maintenances/`` for who may and who may not, its
status moves, the page and the v2 JSON (Statuspage's shapes), components under maintenance,
and incidents logged on a maintained component (flagged, not auto-declared)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from comms.models import MaintenanceUpdate, ScheduledMaintenance
from comms.services import maintenance, subscribers
from incidents.models import Incident, MajorIncident, TimelineKind
from tests.comms.test_status_fixtures import get, get_json, outage, shop  # noqa: F401
from tests.incidents.mi_fixtures import T0

URL = "/api/scheduled-maintenances/"
MAINTENANCE_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
    "scheduled_for",
    "scheduled_until",
}


def body(shop: Any, **extra: Any) -> dict[str, Any]:  # noqa: F811
    return {
        "name": "Checkout database upgrade",
        "components": [shop.checkout.pk],
        "scheduled_for": (T0 + timedelta(hours=1)).isoformat(),
        "scheduled_until": (T0 + timedelta(hours=3)).isoformat(),
        "notes": "Checkout may be slow for a few minutes.",
        **extra,
    }


@pytest.fixture
def window(shop: Any, alice: Any, committed: Any) -> ScheduledMaintenance:  # noqa: F811
    with freeze_time(T0), committed():
        return maintenance.create_maintenance(
            actor=alice,
            name="Checkout database upgrade",
            components=[shop.checkout.pk],
            scheduled_for=T0 + timedelta(hours=1),
            scheduled_until=T0 + timedelta(hours=3),
            notes="Checkout may be slow.",
        )


def move(window: ScheduledMaintenance, actor: Any, status: str, committed: Any) -> None:
    with committed():
        maintenance.change_maintenance(maintenance=window, actor=actor, status=status)


# --- who may ----------------------------------------------------------------------------------


def test_without_a_token_is_401(api: Any, shop: Any) -> None:  # noqa: F811
    assert api.get(URL).status_code == 401
    assert api.post(URL, body(shop), format="json").status_code == 401
    assert ScheduledMaintenance.objects.count() == 0


@pytest.mark.parametrize("who", ["tina_api", "oscar_api"])
def test_a_technician_or_outsider_may_not(
    who: str,
    request: pytest.FixtureRequest,
    shop: Any,  # noqa: F811
    window: ScheduledMaintenance,
) -> None:
    client = request.getfixturevalue(who)
    for response in (
        client.get(URL),
        client.post(URL, body(shop), format="json"),
        client.get(f"{URL}{window.pk}/"),
        client.patch(f"{URL}{window.pk}/", {"status": "in_progress"}, format="json"),
    ):
        assert response.status_code == 403, response.content
        assert "ITSM managers" in response.json()["detail"]
    window.refresh_from_db()
    assert window.status == "scheduled"


@pytest.mark.parametrize("who", ["alice_api", "sam_api"])
def test_a_manager_or_super_admin_announces_a_window(
    who: str,
    request: pytest.FixtureRequest,
    shop: Any,  # noqa: F811
) -> None:
    client = request.getfixturevalue(who)
    response = client.post(URL, body(shop), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "scheduled"
    assert data["components"] == [{"id": shop.checkout.pk, "name": "Checkout"}]
    assert [u["status"] for u in data["updates"]] == ["scheduled"]
    listed = client.get(URL).json()
    assert [row["id"] for row in listed["results"]] == [data["id"]]


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 5000}, "name"),
        ({"components": []}, "components"),
        ({"components": ["x"]}, "components"),
        ({"components": [2**40]}, "components"),
        ({"components": "all"}, "components"),
        ({"scheduled_for": "tomorrow"}, "scheduled_for"),
        ({"scheduled_until": "2025-03-03T08:00:00Z"}, "scheduled_until"),
        ({"notes": {"deep": [1, 2, {"x": None}]}}, "notes"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    alice_api: Any,
    shop: Any,  # noqa: F811
    change: dict[str, Any],
    field: str,
) -> None:
    response = alice_api.post(URL, body(shop, **change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert ScheduledMaintenance.objects.count() == 0


def test_a_component_that_is_not_a_business_service_is_refused(
    alice_api: Any,
    shop: Any,  # noqa: F811
) -> None:
    response = alice_api.post(URL, body(shop, components=[shop.db.pk]), format="json")
    assert response.status_code == 400
    assert "business service" in response.json()["components"][0]


def test_a_body_that_is_not_an_object_is_a_400(alice_api: Any) -> None:
    response = alice_api.post(URL, [1, 2, 3], format="json")
    assert response.status_code == 400
    response = alice_api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_an_unknown_window_is_a_404(alice_api: Any, db: None) -> None:
    assert alice_api.get(f"{URL}999999/").status_code == 404
    assert (
        alice_api.patch(f"{URL}999999/", {"status": "completed"}, format="json").status_code == 404
    )
    assert alice_api.get(f"{URL}nope/").status_code == 404


# --- moves ------------------------------------------------------------------------------------


def test_the_status_moves_through_statuspage_order(
    alice_api: Any, window: ScheduledMaintenance
) -> None:
    response = alice_api.patch(
        f"{URL}{window.pk}/",
        {"status": "in_progress", "message": "We have begun the upgrade."},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["started_at"] is not None
    assert response.json()["updates"][0]["body"] == "We have begun the upgrade."
    for status in ("verifying", "in_progress", "verifying", "completed"):
        response = alice_api.patch(f"{URL}{window.pk}/", {"status": status}, format="json")
        assert response.status_code == 200, (status, response.content)
    window.refresh_from_db()
    assert window.status == "completed" and window.completed_at is not None
    statuses = list(window.updates.order_by("created_at", "id").values_list("status", flat=True))
    assert statuses == [
        "scheduled",
        "in_progress",
        "verifying",
        "in_progress",
        "verifying",
        "completed",
    ]


@pytest.mark.parametrize(
    ("start", "to"),
    [("scheduled", "verifying"), ("completed", "in_progress"), ("completed", "scheduled")],
)
def test_a_move_the_table_refuses_is_a_409_naming_status(
    alice_api: Any, window: ScheduledMaintenance, start: str, to: str
) -> None:
    ScheduledMaintenance.objects.filter(pk=window.pk).update(status=start)
    updates = MaintenanceUpdate.objects.count()
    response = alice_api.patch(f"{URL}{window.pk}/", {"status": to}, format="json")
    assert response.status_code == 409, response.content
    assert "status" in response.json()
    window.refresh_from_db()
    assert window.status == start
    assert MaintenanceUpdate.objects.count() == updates


def test_an_unknown_status_is_a_400(alice_api: Any, window: ScheduledMaintenance) -> None:
    response = alice_api.patch(f"{URL}{window.pk}/", {"status": "done"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()
    response = alice_api.patch(f"{URL}{window.pk}/", {}, format="json")
    assert response.status_code == 400


# --- the page and its JSON ----------------------------------------------------------------


def test_an_upcoming_window_is_on_the_page_and_in_the_json(
    window: ScheduledMaintenance,
    shop: Any,  # noqa: F811
) -> None:
    upcoming = get_json("/status/api/v2/scheduled-maintenances/upcoming.json")
    assert set(upcoming) == {"page", "scheduled_maintenances"}
    [shown] = upcoming["scheduled_maintenances"]
    assert set(shown) == MAINTENANCE_KEYS
    assert shown["impact"] == "maintenance"
    assert shown["status"] == "scheduled"
    assert shown["scheduled_for"] == "2025-03-03T10:00:00.000Z"
    assert shown["scheduled_until"] == "2025-03-03T12:00:00.000Z"
    assert [c["name"] for c in shown["components"]] == ["Checkout"]
    assert [u["status"] for u in shown["incident_updates"]] == ["scheduled"]
    assert (
        get_json("/status/api/v2/scheduled-maintenances/active.json")["scheduled_maintenances"]
        == []
    )
    assert (
        len(get_json("/status/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]) == 1
    )
    assert len(get_json("/status/api/v2/summary.json")["scheduled_maintenances"]) == 1
    assert get_json("/status/summary.json")["scheduled_maintenances"][0]["name"] == window.name
    # Scheduled is not yet under maintenance.
    components = {
        c["name"]: c["status"] for c in get_json("/status/api/v2/components.json")["components"]
    }
    assert components["Checkout"] == "operational"
    html = get("/status/").content.decode()
    assert "Scheduled maintenance" in html and "Checkout database upgrade" in html


def test_a_running_window_puts_its_components_under_maintenance(
    window: ScheduledMaintenance, alice: Any, committed: Any
) -> None:
    move(window, alice, "in_progress", committed)
    active = get_json("/status/api/v2/scheduled-maintenances/active.json")["scheduled_maintenances"]
    assert [m["status"] for m in active] == ["in_progress"]
    assert (
        get_json("/status/api/v2/scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
        == []
    )
    for path in (
        "/status/api/v2/components.json",
        "/status/api/v2/summary.json",
        "/status/summary.json",
    ):
        statuses = {c["name"]: c["status"] for c in get_json(path)["components"]}
        assert statuses == {"Checkout": "under_maintenance", "Payroll": "operational"}, path
    status = get_json("/status/api/v2/status.json")["status"]
    assert status == {"indicator": "none", "description": "Service Under Maintenance"}
    assert "Maintenance in progress" in get("/status/").content.decode()
    move(window, alice, "completed", committed)
    statuses = {
        c["name"]: c["status"] for c in get_json("/status/api/v2/components.json")["components"]
    }
    assert statuses["Checkout"] == "operational"
    [done] = get_json("/status/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]
    assert done["status"] == "completed" and done["resolved_at"] is not None


def test_an_outage_outranks_maintenance(
    window: ScheduledMaintenance,
    alice: Any,
    committed: Any,
    shop: Any,  # noqa: F811
    outage: Callable[..., MajorIncident],  # noqa: F811
) -> None:
    move(window, alice, "in_progress", committed)
    outage(shop.checkout)
    statuses = {
        c["name"]: c["status"] for c in get_json("/status/api/v2/components.json")["components"]
    }
    assert statuses["Checkout"] == "major_outage"


def test_the_page_escapes_a_window_s_words(shop: Any, alice: Any, committed: Any) -> None:  # noqa: F811
    with committed():
        maintenance.create_maintenance(
            actor=alice,
            name="<script>alert(1)</script>",
            components=[shop.checkout.pk],
            scheduled_for=T0 + timedelta(days=400),
            scheduled_until=T0 + timedelta(days=401),
            notes="<img src=x onerror=alert(2)>",
        )
    html = get("/status/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html


def test_a_change_is_on_the_page_at_once(
    window: ScheduledMaintenance, alice: Any, committed: Any
) -> None:
    get("/status/api/v2/components.json")
    from django.test import Client

    Client().get("/status/api/v2/components.json")  # the snapshot is cached now
    move(window, alice, "in_progress", committed)
    statuses = {
        c["name"]: c["status"]
        for c in Client().get("/status/api/v2/components.json").json()["components"]
    }
    assert statuses["Checkout"] == "under_maintenance"


# --- incidents on a maintained component --------------------------------------------------------


def test_an_incident_on_a_maintained_component_is_flagged_and_not_auto_declared(
    roster_ic: Any,
    window: ScheduledMaintenance,
    committed: Any,
    make_incident: Callable[..., Incident],
    shop: Any,  # noqa: F811
) -> None:
    move(window, roster_ic, "in_progress", committed)
    # payments-db is what Checkout runs on: a P1 reaching 530 users, which rule 2 would declare.
    with committed():
        incident = make_incident(impact=1, urgency=1, affected_ci=shop.db)
    incident.refresh_from_db()
    assert incident.under_maintenance
    assert not MajorIncident.objects.filter(incident=incident).exists()
    entry = incident.timeline.get(kind=TimelineKind.MAINTENANCE)
    assert "Checkout database upgrade" in entry.message


def test_the_same_incident_without_maintenance_is_declared(
    roster_ic: Any,
    window: ScheduledMaintenance,
    committed: Any,
    make_incident: Callable[..., Incident],
    shop: Any,  # noqa: F811
) -> None:
    # The window is only scheduled: nothing is under maintenance yet.
    with committed():
        incident = make_incident(impact=1, urgency=1, affected_ci=shop.db)
    incident.refresh_from_db()
    assert not incident.under_maintenance
    assert MajorIncident.objects.filter(incident=incident).exists()


def test_an_incident_on_an_unrelated_component_is_not_flagged(
    window: ScheduledMaintenance,
    alice: Any,
    committed: Any,
    make_incident: Callable[..., Incident],
    shop: Any,  # noqa: F811
) -> None:
    move(window, alice, "in_progress", committed)
    with committed():
        incident = make_incident(impact=3, urgency=3, affected_ci=shop.payroll)
    incident.refresh_from_db()
    assert not incident.under_maintenance


# --- subscribers hear of it -------------------------------------------------------------------


def test_subscribers_are_mailed_on_scheduled_started_and_completed_once_each(
    shop: Any,  # noqa: F811
    alice: Any,
    committed: Any,
    make_subscriber: Callable[..., Any],
) -> None:
    follower = make_subscriber("follower@example.test", [shop.checkout])
    make_subscriber("payroll@example.test", [shop.payroll])
    with committed():
        window = maintenance.create_maintenance(
            actor=alice,
            name="Upgrade",
            components=[shop.checkout.pk],
            scheduled_for=T0 + timedelta(hours=1),
            scheduled_until=T0 + timedelta(hours=3),
        )
    for status in ("in_progress", "verifying", "completed"):
        move(window, alice, status, committed)
    mine = [m for m in mail.outbox if m.to == [follower.email]]
    assert [m.subject for m in mine] == [
        "[Maintenance] Scheduled: Upgrade",
        "[Maintenance] In progress: Upgrade",
        "[Maintenance] Completed: Upgrade",
    ]
    assert all(
        m.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in mine
    )
    assert not [m for m in mail.outbox if m.to == ["payroll@example.test"]]
    # Sending an update's mails again sends nothing new.
    before = len(mail.outbox)
    with committed():
        for update in window.updates.filter(status__in=maintenance.NOTIFIED):
            subscribers.maintenance_updated(update)
    assert len(mail.outbox) == before


def test_the_list_costs_the_same_queries_for_2_and_20_windows(
    alice: Any,
    alice_api: Any,
    shop: Any,  # noqa: F811
) -> None:
    def add(n: int) -> None:
        for i in range(n):
            window = maintenance.create_maintenance(
                actor=alice,
                name=f"Window {i}",
                components=[shop.checkout.pk, shop.payroll.pk],
                scheduled_for=T0 + timedelta(days=i + 1),
                scheduled_until=T0 + timedelta(days=i + 1, hours=1),
            )
            maintenance.change_maintenance(maintenance=window, actor=alice, status="in_progress")

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert alice_api.get(URL).status_code == 200
    add(18)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get(URL).json()["results"]) == 20
    assert len(many) == len(few)
