"""The status page tests' CMDB and helpers.

``shop``: Checkout (business service) → checkout-app → payments-db, and Payroll (business
service, depends on nothing of the shop). ``outage(ci, …)``: an MI declared on an incident whose
affected CI is ``ci``. ``publish(mi, actor, …)``: a public status-page update, sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from comms.models import StakeholderUpdate, UpdateType
from comms.services import updates
from comms.web import status as status_web
from incidents.models import ConfigurationItem, Incident, MajorIncident
from tests.incidents.mi_fixtures import declare

ENDPOINTS = (
    "/status/",
    "/status/summary.json",
    "/status/api/v2/summary.json",
    "/status/api/v2/status.json",
    "/status/api/v2/components.json",
    "/status/api/v2/incidents.json",
    "/status/api/v2/incidents/unresolved.json",
    "/status/api/v2/scheduled-maintenances.json",
    "/status/api/v2/scheduled-maintenances/upcoming.json",
    "/status/api/v2/scheduled-maintenances/active.json",
)


@dataclass
class Shop:
    checkout: ConfigurationItem
    app: ConfigurationItem
    db: ConfigurationItem
    payroll: ConfigurationItem


@pytest.fixture
def shop(make_ci: Callable[..., ConfigurationItem]) -> Shop:
    db = make_ci("payments-db", kind="database", users=10)
    app = make_ci("checkout-app", depends_on=(db,), users=20)
    checkout = make_ci("Checkout", kind="business_service", depends_on=(app,), users=500)
    payroll = make_ci("Payroll", kind="business_service", users=40)
    return Shop(checkout=checkout, app=app, db=db, payroll=payroll)


@pytest.fixture
def outage(make_incident: Callable[..., Any], alice: Any) -> Callable[..., MajorIncident]:
    def _outage(ci: ConfigurationItem, *, priority: int = 1, **fields: Any) -> MajorIncident:
        incident = make_incident(
            impact=1,
            urgency=1,
            affected_ci=ci,
            short_description=fields.pop("short_description", "Checkout returns 503"),
        )
        mi = declare(incident, alice, **fields)
        # Declaring makes the incident a P1; a manager may lower it afterwards.
        if priority != 1:
            Incident.objects.filter(pk=incident.pk).update(priority=priority)
        return mi

    return _outage


def publish(
    mi: MajorIncident,
    actor: Any,
    *,
    impact: str = "Customers cannot pay at checkout.",
    action: str = "Engineers are failing over the payment service.",
    user_action: str = "Please retry in 30 minutes.",
    update_type: str = UpdateType.STATUS_PAGE,
    approver: Any = None,
) -> StakeholderUpdate:
    update = updates.create_update(
        mi=mi,
        actor=actor,
        update_type=update_type,
        current_impact=impact,
        current_action=action,
        user_action=user_action,
        next_update_at=timezone.now() + timedelta(minutes=30),
    )
    if approver is not None:
        update = updates.approve_update(update=update, actor=approver)
    update = updates.send_update(update=update, actor=actor)
    status_web.forget()  # the page's snapshot would serve the old state for 10 s
    return update


def get(path: str, **headers: Any) -> Any:
    status_web.forget()
    return Client().get(path, **headers)


def get_json(path: str) -> Any:
    response = get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()
