"""A real Prometheus Alertmanager posting to the running app: an alert fired with ``amtool``
opens one incident, its repeat notifications open no second one, and resolving it resolves the
incident."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from comms.models import AlertGroup, InboundEvent
from incidents.models import Incident
from tests.comms.alertmanager_peer import running_alertmanager
from tests.comms.inbound_fixtures import source


def _until(check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"not within {seconds}s: {check.__doc__ or check}")


@pytest.mark.django_db(transaction=True)
def test_fire_repeat_and_resolve_through_a_real_alertmanager(live_server: Any) -> None:
    _, token = source("alertmanager", "prometheus")
    url = f"{live_server.url}/api/inbound/alertmanager/"
    with running_alertmanager(url, token) as am:
        am.fire("CheckoutErrors", service="checkout", severity="critical")

        def opened() -> Incident | None:
            """the incident opened"""
            return Incident.objects.first()

        incident = _until(opened)
        assert incident.channel == "monitoring"
        assert "CheckoutErrors" in incident.short_description

        def repeated() -> bool:
            """a repeat notification arrived"""
            group = AlertGroup.objects.first()
            return group is not None and group.notifications >= 2

        _until(repeated)
        # The same alert again, and its repeats: still one incident.
        am.fire("CheckoutErrors", service="checkout", severity="critical")
        time.sleep(2.5)
        assert Incident.objects.count() == 1
        am.resolve("CheckoutErrors", service="checkout", severity="critical")

        def resolved() -> bool:
            """the incident resolved"""
            return Incident.objects.get(pk=incident.pk).state == "resolved"

        _until(resolved)
    assert Incident.objects.count() == 1
    events = InboundEvent.objects.all()
    assert all(e.outcome in ("created", "updated", "resolved", "ignored") for e in events)
    assert events.filter(outcome="created").count() == 1
    assert events.filter(outcome="resolved").count() == 1
