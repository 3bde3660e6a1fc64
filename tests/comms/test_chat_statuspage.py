"""The Statuspage push against a stub of its REST API v1: the first public update opens an
incident, later ones update it, the affected services' components follow the MI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from comms import services
from comms.channels.statuspage import StatuspageChannel
from comms.models import DeliveryAttempt, ExternalRecord, OutboxMessage, OutboxStatus
from comms.selectors import messages
from incidents.models import CIKind, ConfigurationItem, Incident, MajorIncident, MIStatus
from tests.incidents.mi_fixtures import force_status
from tests.stub_http import Recorded, Reply, StubServer

pytestmark = pytest.mark.django_db

PAGE = "pg0123"
INCIDENTS = f"/v1/pages/{PAGE}/incidents"


@pytest.fixture
def statuspage(settings: Any, stub: StubServer) -> StubServer:
    settings.STATUSPAGE_API_KEY = "sp-key"
    settings.STATUSPAGE_PAGE_ID = PAGE
    settings.STATUSPAGE_API_URL = stub.url + "/v1/"
    settings.STATUSPAGE_COMPONENTS = {"Checkout": "cmp_checkout", "Unrelated": "cmp_other"}

    def api(request: Recorded) -> Reply | None:
        if request.method == "POST" and request.path == INCIDENTS:
            return Reply(201, {"id": "inc_42", **request.json()["incident"]})
        if request.method == "PATCH" and request.path.startswith(INCIDENTS + "/"):
            return Reply(200, {"id": request.path.rsplit("/", 1)[1], **request.json()["incident"]})
        return None

    stub.handler = api
    return stub


@pytest.fixture
def checkout_mi(mi: MajorIncident) -> MajorIncident:
    ci = ConfigurationItem.objects.create(name="Checkout", kind=CIKind.BUSINESS_SERVICE)
    Incident.objects.filter(pk=mi.incident_id).update(affected_ci=ci)
    mi.refresh_from_db()
    return mi


def _push(mi: MajorIncident, n: int, text: str = "Checkout is failing") -> services.NewMessage:
    parts = messages.Parts(
        subject="Checkout unavailable",
        current_impact=text,
        current_action="Rolling back",
        user_action="Retry later",
    )
    return services.NewMessage(
        channel="statuspage",
        recipient="page",
        key=f"sp:{n}",
        purpose="status_page",
        subject=parts.subject,
        payload=messages.payload(mi, update_type="status_page", parts=parts, update_id=n),
        major_incident_id=mi.pk,
    )


def test_the_first_update_opens_an_incident_and_later_ones_update_it(
    checkout_mi: MajorIncident, statuspage: StubServer, committed: Any
) -> None:
    mi = checkout_mi
    with committed():
        services.enqueue([_push(mi, 1)])
    (create,) = statuspage.requests
    assert (create.method, create.path) == ("POST", INCIDENTS)
    assert create.headers["authorization"] == "OAuth sp-key"
    assert create.json() == {
        "incident": {
            "name": "Checkout unavailable",
            "status": "investigating",
            "body": messages.text_of(
                messages.Parts("", "Checkout is failing", "Rolling back", "Retry later"), None
            ),
            "deliver_notifications": True,
            "component_ids": ["cmp_checkout"],
            "components": {"cmp_checkout": "major_outage"},
        }
    }
    record = ExternalRecord.objects.get(major_incident=mi, channel="statuspage")
    assert record.external_id == "inc_42"
    assert OutboxMessage.objects.get(idempotency_key="sp:1").provider_message_id == "inc_42"

    force_status(mi, MIStatus.MONITORING)
    with committed():
        services.enqueue([_push(mi, 2, "Payments recovering")])
    force_status(mi, MIStatus.RESOLVED)
    with committed():
        services.enqueue([_push(mi, 3, "All payments work")])
    patches = statuspage.requests[1:]
    assert [(r.method, r.path) for r in patches] == [("PATCH", f"{INCIDENTS}/inc_42")] * 2
    first, last = (r.json()["incident"] for r in patches)
    assert first["status"] == "monitoring"
    assert first["components"] == {"cmp_checkout": "degraded_performance"}
    assert "name" not in first
    assert last["status"] == "resolved"
    assert last["components"] == {"cmp_checkout": "operational"}
    assert "All payments work" in last["body"]
    assert ExternalRecord.objects.filter(major_incident=mi).count() == 1


def test_an_update_overtaken_by_a_newer_one_is_not_pushed(
    checkout_mi: MajorIncident, statuspage: StubServer, committed: Any
) -> None:
    with committed():
        services.enqueue([_push(checkout_mi, 5)])
        services.enqueue([_push(checkout_mi, 4)])
    assert len(statuspage.requests) == 1
    late = OutboxMessage.objects.get(idempotency_key="sp:4")
    assert late.status == OutboxStatus.SENT and late.provider_message_id == "inc_42:superseded"


def test_a_second_update_while_the_first_is_opening_the_incident_waits(
    checkout_mi: MajorIncident, statuspage: StubServer, committed: Any
) -> None:
    # The first update's message holds the claim (its worker is mid-POST).
    with committed():
        ids = services.enqueue([_push(checkout_mi, 1)])
    ExternalRecord.objects.filter(major_incident=checkout_mi).update(
        external_id="", data={"claimed_by": ids[0] + 1000}
    )
    statuspage.requests.clear()
    with committed():
        services.enqueue([_push(checkout_mi, 2)])
    message = OutboxMessage.objects.get(idempotency_key="sp:2")
    assert message.status == OutboxStatus.FAILED
    assert "being opened by another message" in message.last_error
    assert statuspage.requests == []


def test_500_then_429_then_success_opens_one_incident(
    checkout_mi: MajorIncident, statuspage: StubServer, committed: Any
) -> None:
    statuspage.script(
        INCIDENTS, Reply(500, "oops"), Reply(429, "slow", headers={"Retry-After": "60"})
    )
    with freeze_time("2025-03-03 09:00:00") as frozen:
        with committed():
            services.enqueue([_push(checkout_mi, 1)])
        message = OutboxMessage.objects.get(idempotency_key="sp:1")
        for _ in range(2):
            assert message.status == OutboxStatus.FAILED
            assert not ExternalRecord.objects.exclude(external_id="").exists()
            frozen.move_to(message.next_attempt_at + timedelta(seconds=1))
            with committed():
                services.redrive()
            message.refresh_from_db()
        assert message.status == OutboxStatus.SENT
    assert [r.method for r in statuspage.requests] == ["POST"] * 3
    assert ExternalRecord.objects.get(major_incident=checkout_mi).external_id == "inc_42"
    outcomes = DeliveryAttempt.objects.filter(message=message).order_by("number")
    assert [a.outcome for a in outcomes] == ["temporary", "temporary", "sent"]
    assert outcomes[1].retry_after == 60


def test_a_refused_key_is_permanent(
    checkout_mi: MajorIncident, statuspage: StubServer, committed: Any
) -> None:
    statuspage.script(INCIDENTS, Reply(401, {"error": "Could not authenticate"}))
    with committed():
        services.enqueue([_push(checkout_mi, 1)])
    message = OutboxMessage.objects.get(idempotency_key="sp:1")
    assert message.status == OutboxStatus.DEAD and "HTTP 401" in message.last_error
    assert not ExternalRecord.objects.exists()  # the claim let go: a later update may open it


def test_without_a_component_mapping_no_component_is_touched(
    mi: MajorIncident, statuspage: StubServer, settings: Any, committed: Any
) -> None:
    settings.STATUSPAGE_COMPONENTS = {}
    with committed():
        services.enqueue([_push(mi, 1)])
    body = statuspage.requests[0].json()["incident"]
    assert "components" not in body and "component_ids" not in body


def test_the_channel_is_off_without_a_key(settings: Any) -> None:
    settings.STATUSPAGE_API_KEY = ""
    assert StatuspageChannel().off_reason() == "STATUSPAGE_API_KEY is unset"


def test_a_p2_is_a_partial_outage(
    checkout_mi: MajorIncident, statuspage: StubServer, committed: Any
) -> None:
    Incident.objects.filter(pk=checkout_mi.incident_id).update(priority=2)
    checkout_mi.refresh_from_db()
    with committed():
        services.enqueue([_push(checkout_mi, 1)])
    assert statuspage.requests[0].json()["incident"]["components"] == {
        "cmp_checkout": "partial_outage"
    }
