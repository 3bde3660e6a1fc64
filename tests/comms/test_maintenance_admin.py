"""Scheduled maintenance and subscribers in the admin: an ITSM manager announces and moves a
window through the same service as the API (its update row, its refusals); who may not, may not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from comms.models import MaintenanceUpdate, ScheduledMaintenance, StatusSubscriber
from comms.services import maintenance
from tests.comms.test_status_fixtures import shop  # noqa: F401

ADD = "/admin/comms/scheduledmaintenance/add/"
LIST = "/admin/comms/scheduledmaintenance/"


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(shop: Any, **extra: Any) -> dict[str, Any]:  # noqa: F811
    start = timezone.now() + timedelta(days=1)
    return {
        "name": "Checkout upgrade",
        "components": [shop.checkout.pk],
        "scheduled_for_0": start.strftime("%Y-%m-%d"),
        "scheduled_for_1": "10:00:00",
        "scheduled_until_0": start.strftime("%Y-%m-%d"),
        "scheduled_until_1": "12:00:00",
        "notes": "Short interruptions.",
        "message": "",
        "updates-TOTAL_FORMS": "0",
        "updates-INITIAL_FORMS": "0",
        "updates-MIN_NUM_FORMS": "0",
        "updates-MAX_NUM_FORMS": "0",
        **extra,
    }


def test_a_manager_announces_a_window_through_the_service(
    alice: Any,
    shop: Any,  # noqa: F811
    committed: Any,
) -> None:
    client = _login(alice)
    assert client.get(ADD).status_code == 200
    with committed():
        response = client.post(ADD, _form(shop))
    assert response.status_code == 302, response.content.decode()[:2000]
    window = ScheduledMaintenance.objects.get()
    assert window.created_by == alice
    assert list(window.components.all()) == [shop.checkout]
    assert list(window.updates.values_list("status", flat=True)) == ["scheduled"]


def test_a_manager_moves_it_and_a_refused_move_is_a_message(
    alice: Any,
    shop: Any,  # noqa: F811
    committed: Any,
) -> None:
    window = maintenance.create_maintenance(
        actor=alice,
        name="Checkout upgrade",
        components=[shop.checkout.pk],
        scheduled_for=timezone.now() + timedelta(days=1),
        scheduled_until=timezone.now() + timedelta(days=1, hours=2),
    )
    client = _login(alice)
    url = f"{LIST}{window.pk}/change/"
    start = window.scheduled_for.astimezone(timezone.get_current_timezone())
    end = window.scheduled_until.astimezone(timezone.get_current_timezone())
    data = _form(
        shop,
        status="in_progress",
        message="Started.",
        scheduled_for_0=start.strftime("%Y-%m-%d"),
        scheduled_for_1=start.strftime("%H:%M:%S"),
        scheduled_until_0=end.strftime("%Y-%m-%d"),
        scheduled_until_1=end.strftime("%H:%M:%S"),
        name=window.name,
        notes=window.notes,
    )
    with committed():
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    window.refresh_from_db()
    assert window.status == "in_progress"
    assert MaintenanceUpdate.objects.filter(maintenance=window, body="Started.").exists()
    data["status"] = "scheduled"  # back to scheduled: refused by the service's table
    response = client.post(url, data, follow=True)
    assert "cannot move from in_progress to scheduled" in response.content.decode()
    window.refresh_from_db()
    assert window.status == "in_progress"


@pytest.mark.parametrize("who", ["tina", "oscar"])
def test_who_may_not_gets_a_refusal(
    who: str,
    request: pytest.FixtureRequest,
    shop: Any,  # noqa: F811
) -> None:
    user = request.getfixturevalue(who)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = _login(user)
    assert client.get(LIST).status_code == 403
    assert client.post(ADD, _form(shop)).status_code == 403
    assert client.get("/admin/comms/statussubscriber/").status_code == 403
    assert not ScheduledMaintenance.objects.exists()


def test_nobody_adds_or_edits_a_subscriber_in_the_admin(sam: Any, alice: Any) -> None:
    subscriber = StatusSubscriber.objects.create(email="pat@example.test")
    for user in (alice, sam):
        client = _login(user)
        assert client.get("/admin/comms/statussubscriber/").status_code == 200
        assert client.get("/admin/comms/statussubscriber/add/").status_code == 403
        response = client.post(
            f"/admin/comms/statussubscriber/{subscriber.pk}/change/", {"email": "x@example.test"}
        )
        assert response.status_code == 403
    subscriber.refresh_from_db()
    assert subscriber.email == "pat@example.test"
