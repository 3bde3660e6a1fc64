"""Teams (a Workflows webhook with an Adaptive Card) and the signed generic webhook, against a
local stub that records the requests; ``verify`` as a receiver would use it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time

from comms import services
from comms.channels import webhook
from comms.models import DeliveryAttempt, OutboxMessage, OutboxStatus
from comms.selectors import messages
from incidents.models import MajorIncident
from tests.stub_http import Reply, StubServer

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-0123456789"


def _row(mi: MajorIncident, channel: str, url: str, key: str = "k1") -> services.NewMessage:
    parts = messages.Parts(
        subject="Checkout is down",
        current_impact="Customers cannot pay <b>now</b>",
        current_action="Rolling back release 4.2",
        user_action="Retry in 30 minutes",
    )
    return services.NewMessage(
        channel=channel,
        recipient=url,
        key=key,
        purpose="cadence",
        subject=parts.subject,
        payload=messages.payload(
            mi,
            update_type="cadence",
            parts=parts,
            next_update_at=datetime(2025, 3, 3, 9, 30, tzinfo=UTC),
        ),
        major_incident_id=mi.pk,
    )


@pytest.fixture
def teams(settings: Any, stub: StubServer) -> StubServer:
    settings.TEAMS_WEBHOOK_URL = stub.url + "/workflows/default"
    stub.default = Reply(202, "")
    return stub


@pytest.fixture
def hook(settings: Any, stub: StubServer) -> StubServer:
    settings.MIM_WEBHOOK_SECRET = SECRET
    return stub


# Teams -----------------------------------------------------------------------------------------


def test_teams_gets_an_adaptive_card_with_the_four_parts_and_a_war_room_button(
    mi: MajorIncident, teams: StubServer, committed: Any
) -> None:
    with committed():
        services.enqueue([_row(mi, "teams", teams.url + "/workflows/ops")])
    assert OutboxMessage.objects.get(idempotency_key="k1").status == OutboxStatus.SENT
    (request,) = teams.to("/workflows/ops")
    assert request.method == "POST" and request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "Checkout is down"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert facts == [
        {"title": "Current impact", "value": "Customers cannot pay <b>now</b>"},
        {"title": "What we are doing", "value": "Rolling back release 4.2"},
        {"title": "What you should do", "value": "Retry in 30 minutes"},
        {"title": "Next update", "value": "2025-03-03 09:30 UTC"},
    ]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open the war room", "url": messages.war_room_url(mi)}
    ]


def test_teams_500_then_429_then_success_is_delivered_once(
    mi: MajorIncident, teams: StubServer, committed: Any
) -> None:
    teams.script(
        "/workflows/ops", Reply(500, "boom"), Reply(429, "slow down", headers={"Retry-After": "90"})
    )
    with freeze_time("2025-03-03 09:00:00") as frozen:
        with committed():
            services.enqueue([_row(mi, "teams", teams.url + "/workflows/ops")])
        message = OutboxMessage.objects.get(idempotency_key="k1")
        for _ in range(2):
            assert message.status == OutboxStatus.FAILED
            frozen.move_to(message.next_attempt_at + timedelta(seconds=1))
            with committed():
                services.redrive()
            message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and message.attempts == 3
    assert len(teams.to("/workflows/ops")) == 3
    attempts = list(DeliveryAttempt.objects.filter(message=message).order_by("number"))
    assert [a.outcome for a in attempts] == ["temporary", "temporary", "sent"]
    assert attempts[1].retry_after == 90
    assert attempts[2].started_at >= attempts[1].finished_at + timedelta(seconds=90)


@pytest.mark.parametrize("status", [400, 403, 404])
def test_teams_4xx_is_permanent(
    mi: MajorIncident, teams: StubServer, committed: Any, status: int
) -> None:
    teams.script("/workflows/ops", Reply(status, "no such flow"))
    with committed():
        services.enqueue([_row(mi, "teams", teams.url + "/workflows/ops")])
    message = OutboxMessage.objects.get(idempotency_key="k1")
    assert message.status == OutboxStatus.DEAD
    assert f"HTTP {status}" in message.last_error


# Webhook ---------------------------------------------------------------------------------------


def test_a_webhook_is_signed_over_timestamp_and_body_and_carries_the_delivery_key(
    mi: MajorIncident, hook: StubServer, committed: Any
) -> None:
    with freeze_time("2025-03-03 09:00:00"):
        with committed():
            services.enqueue([_row(mi, "webhook", hook.url + "/hooks/mim", key="update:7:x")])
        now = timezone.now()
    assert OutboxMessage.objects.get(idempotency_key="update:7:x").status == OutboxStatus.SENT
    (request,) = hook.to("/hooks/mim")
    stamp = int(now.timestamp())
    assert request.headers["x-mim-timestamp"] == str(stamp)
    assert request.headers["x-mim-delivery"] == "update:7:x"
    header = request.headers["x-mim-signature"]
    assert header == f"t={stamp},v1={webhook.signature(SECRET, request.body, stamp)}"
    assert webhook.verify(SECRET, request.body, header, now)
    body = json.loads(request.body)
    assert body["id"] == "update:7:x"
    assert body["type"] == "cadence"
    assert body["major_incident"]["number"] == mi.number
    assert body["current_impact"] == "Customers cannot pay <b>now</b>"
    assert body["current_action"] == "Rolling back release 4.2"
    assert body["user_action"] == "Retry in 30 minutes"
    assert body["next_update_at"] == "2025-03-03T09:30:00+00:00"


def test_a_webhook_retry_keeps_its_delivery_key_and_signs_afresh(
    mi: MajorIncident, hook: StubServer, committed: Any
) -> None:
    hook.script("/hooks/mim", Reply(503, "down"))
    with freeze_time("2025-03-03 09:00:00") as frozen:
        with committed():
            services.enqueue([_row(mi, "webhook", hook.url + "/hooks/mim")])
        message = OutboxMessage.objects.get(idempotency_key="k1")
        frozen.move_to(message.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.redrive()
    first, second = hook.to("/hooks/mim")
    assert first.headers["x-mim-delivery"] == second.headers["x-mim-delivery"] == "k1"
    assert first.body == second.body
    assert first.headers["x-mim-timestamp"] != second.headers["x-mim-timestamp"]
    stamp = int(second.headers["x-mim-timestamp"])
    assert webhook.verify(SECRET, second.body, second.headers["x-mim-signature"], stamp)


def test_verify_refuses_a_wrong_secret_a_stale_timestamp_and_a_tampered_body() -> None:
    body = b'{"id":"k1","type":"cadence"}'
    now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    stamp = int(now.timestamp())
    header = webhook.signature_header(SECRET, body, stamp)
    assert webhook.verify(SECRET, body, header, now)
    assert webhook.verify(SECRET, body, header, now + timedelta(seconds=300))
    assert not webhook.verify("another-secret", body, header, now)
    assert not webhook.verify(SECRET, body, header, now + timedelta(seconds=301))
    assert not webhook.verify(SECRET, body, header, now - timedelta(seconds=301))
    assert not webhook.verify(SECRET, body.replace(b"cadence", b"initial"), header, now)
    # A rotated secret: either signature may match.
    both = f"{header},v1={webhook.signature('old-secret', body, stamp)}"
    assert webhook.verify("old-secret", body, both, now)
    for broken in ("", "t=abc,v1=00", f"t={stamp}", "v1=00", f"t={stamp},v0=00"):
        assert not webhook.verify(SECRET, body, broken, now)


def test_the_webhook_channel_is_off_without_a_secret(settings: Any) -> None:
    settings.MIM_WEBHOOK_SECRET = ""
    assert webhook.WebhookChannel().off_reason() == "MIM_WEBHOOK_SECRET is unset"


def test_a_recipient_that_is_no_url_is_dead_without_a_request(
    mi: MajorIncident, hook: StubServer, committed: Any
) -> None:
    with committed():
        services.enqueue([_row(mi, "webhook", "file:///etc/passwd")])
    message = OutboxMessage.objects.get(idempotency_key="k1")
    assert message.status == OutboxStatus.DEAD and hook.requests == []
