"""The Slack channel against a local stub of the Web API: message shape and escaping, the MI's
own channel (created once, named by the template, suffixed when the name is taken, role holders
invited, rules pinned), retries with ``Retry-After``, permanent errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time

from comms import services
from comms.channels.slack import SlackChannel, channel_name, escape, with_suffix
from comms.models import DeliveryAttempt, IncidentChannel, OutboxMessage, OutboxStatus
from comms.selectors import messages
from comms.selectors.audience import INCIDENT_CHANNEL
from comms.services import slack as slack_service
from incidents.models import MajorIncident, UserProfile
from tests.stub_http import Recorded, Reply, StubServer

pytestmark = pytest.mark.django_db

API = "/api/"


@pytest.fixture
def slack(settings: Any, stub: StubServer) -> StubServer:
    """Slack on the stub: channels are created with ids C1, C2…; posts get increasing ts."""
    settings.SLACK_BOT_TOKEN = "xoxb-test-token"
    settings.SLACK_API_URL = stub.url + API
    counter = {"channel": 0, "ts": 0}

    def web_api(request: Recorded) -> Reply | None:
        method = request.path.removeprefix(API)
        if method == "conversations.create":
            counter["channel"] += 1
            name = request.json()["name"]
            return Reply(
                200, {"ok": True, "channel": {"id": f"C{counter['channel']}", "name": name}}
            )
        if method == "chat.postMessage":
            counter["ts"] += 1
            channel = request.json()["channel"]
            return Reply(
                200, {"ok": True, "channel": channel, "ts": f"1700000000.{counter['ts']:06d}"}
            )
        return None

    stub.handler = web_api
    return stub


def _update_row(
    mi: MajorIncident, recipient: str, key: str = "k-slack", **parts: str
) -> services.NewMessage:
    text = {
        "subject": parts.get("subject", "Checkout is down"),
        "current_impact": parts.get("current_impact", "Customers cannot pay"),
        "current_action": parts.get("current_action", "Rolling back release 4.2"),
        "user_action": parts.get("user_action", "Retry in 30 minutes"),
    }
    payload = messages.payload(
        mi,
        update_type="cadence",
        parts=messages.Parts(**text),
        next_update_at=datetime(2025, 3, 3, 9, 30, tzinfo=UTC),
    )
    return services.NewMessage(
        channel="slack",
        recipient=recipient,
        key=key,
        purpose="cadence",
        subject=text["subject"],
        payload=payload,
        major_incident_id=mi.pk,
    )


def _ready_channel(mi: MajorIncident, channel_id: str = "CINC") -> IncidentChannel:
    return IncidentChannel.objects.create(
        major_incident=mi, name="incident-x", channel_id=channel_id, ready_at=timezone.now()
    )


def _slack_id(user: Any, slack_id: str) -> None:
    UserProfile.objects.update_or_create(user=user, defaults={"slack_user_id": slack_id})


# Names -------------------------------------------------------------------------------------------


def test_the_channel_name_follows_the_template_in_slacks_alphabet() -> None:
    declared = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)
    name = channel_name(
        declared_at=declared, summary="Checkout & Payments: DOWN (EU) ✓", number="MI-7"
    )
    assert name == "incident-20250303-checkout-payments-down-eu"
    # The date is the UTC day, whatever the zone of the datetime given.
    from zoneinfo import ZoneInfo

    local = declared.astimezone(ZoneInfo("Pacific/Auckland"))
    assert channel_name(declared_at=local, summary="x", number="MI-7") == "incident-20250303-x"
    long = channel_name(declared_at=declared, summary="word " * 40, number="MI-7")
    assert len(long) <= 80 and not long.endswith("-")
    assert (
        channel_name(
            declared_at=declared,
            summary="Db",
            number="MI-2025-0007",
            template="MIM {number} {slug}!",
        )
        == "mim-mi-2025-0007-db"
    )
    assert len(with_suffix(long, 12)) <= 80 and with_suffix(long, 12).endswith("-12")
    assert with_suffix("incident-a", 1) == "incident-a"


def test_mrkdwn_control_characters_are_escaped() -> None:
    assert escape("<!channel> & <@U1|x>") == "&lt;!channel&gt; &amp; &lt;@U1|x&gt;"


# Messages ----------------------------------------------------------------------------------------


def test_a_message_to_a_groups_channel_is_block_kit_with_a_text_fallback_escaped(
    mi: MajorIncident, slack: StubServer, committed: Any
) -> None:
    row = _update_row(mi, "C0LEADERS", current_impact="<!channel> pay & ship fail")
    with committed():
        services.enqueue([row])
    message = OutboxMessage.objects.get(idempotency_key="k-slack")
    assert message.status == OutboxStatus.SENT
    assert message.provider_message_id == "C0LEADERS:1700000000.000001"
    (request,) = slack.to("/api/chat.postMessage")
    assert request.headers["authorization"] == "Bearer xoxb-test-token"
    body = request.json()
    assert body["channel"] == "C0LEADERS"
    assert body["text"].startswith("Checkout is down\n")
    assert "&lt;!channel&gt; pay &amp; ship fail" in body["text"]
    assert "<!channel>" not in body["text"]
    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Checkout is down"},
    }
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sections == [
        "*Current impact*\n&lt;!channel&gt; pay &amp; ship fail",
        "*What we are doing*\nRolling back release 4.2",
        "*What you should do*\nRetry in 30 minutes",
        "*Next update*\n2025-03-03 09:30 UTC",
    ]
    context = blocks[-1]["elements"][0]["text"]
    assert context.startswith(f"<{messages.war_room_url(mi)}|{mi.number} war room")


def test_a_direct_message_goes_to_the_member_id(
    mi: MajorIncident, slack: StubServer, committed: Any
) -> None:
    with committed():
        services.enqueue([_update_row(mi, "U0CAROL")])
    (request,) = slack.to("/api/chat.postMessage")
    assert request.json()["channel"] == "U0CAROL"


def test_the_incident_channel_not_ready_is_retried_then_posted_there(
    mi: MajorIncident, slack: StubServer, committed: Any
) -> None:
    with freeze_time(timezone.now()) as frozen:
        with committed():
            services.enqueue([_update_row(mi, INCIDENT_CHANNEL)])
        message = OutboxMessage.objects.get(idempotency_key="k-slack")
        assert message.status == OutboxStatus.FAILED
        assert message.last_error == "channel not created yet"
        assert slack.requests == []
        _ready_channel(mi, "CINC")
        frozen.tick(timedelta(seconds=61))
        with committed():
            services.redrive()
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert slack.to("/api/chat.postMessage")[0].json()["channel"] == "CINC"


def test_a_500_then_a_429_then_success_is_delivered_once_after_retry_after(
    mi: MajorIncident, slack: StubServer, committed: Any
) -> None:
    slack.script(
        "/api/chat.postMessage",
        Reply(500, "upstream exploded"),
        Reply(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "300"}),
    )
    with freeze_time("2025-03-03 09:00:00") as frozen:
        with committed():
            services.enqueue([_update_row(mi, "C0LEADERS")])
        message = OutboxMessage.objects.get(idempotency_key="k-slack")
        assert message.status == OutboxStatus.FAILED and message.attempts == 1
        assert "HTTP 500" in message.last_error

        frozen.move_to(message.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.redrive()
        message.refresh_from_db()
        assert message.status == OutboxStatus.FAILED and message.attempts == 2
        assert "ratelimited" in message.last_error
        # The backoff is never shorter than Slack's Retry-After.
        assert message.next_attempt_at >= timezone.now() + timedelta(seconds=300)
        frozen.tick(timedelta(seconds=299))
        with committed():
            assert services.redrive()["queued"] == 0

        frozen.move_to(message.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.redrive()
            services.redrive()
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and message.attempts == 3
    assert len(slack.to("/api/chat.postMessage")) == 3
    attempts = list(DeliveryAttempt.objects.filter(message=message).order_by("number"))
    assert [a.outcome for a in attempts] == ["temporary", "temporary", "sent"]
    assert attempts[1].retry_after == 300


@pytest.mark.parametrize(
    "error",
    ["invalid_auth", "channel_not_found", "not_in_channel", "is_archived", "account_inactive"],
)
def test_a_permanent_slack_error_is_dead_at_once(
    mi: MajorIncident, slack: StubServer, committed: Any, error: str
) -> None:
    slack.script("/api/chat.postMessage", Reply(200, {"ok": False, "error": error}))
    with committed():
        services.enqueue([_update_row(mi, "C0GONE")])
    message = OutboxMessage.objects.get(idempotency_key="k-slack")
    assert message.status == OutboxStatus.DEAD and message.attempts == 1
    assert error in message.last_error
    assert DeliveryAttempt.objects.get(message=message).outcome == "permanent"


def test_a_refused_connection_is_temporary(
    mi: MajorIncident, settings: Any, committed: Any
) -> None:
    settings.SLACK_BOT_TOKEN = "xoxb-test-token"
    with StubServer() as gone:
        settings.SLACK_API_URL = gone.url + API
    with committed():
        services.enqueue([_update_row(mi, "C0LEADERS")])
    message = OutboxMessage.objects.get(idempotency_key="k-slack")
    assert message.status == OutboxStatus.FAILED
    assert "URLError" in message.last_error or "Connection" in message.last_error


def test_the_channel_is_off_without_a_token(settings: Any) -> None:
    settings.SLACK_BOT_TOKEN = ""
    assert SlackChannel().off_reason() == "SLACK_BOT_TOKEN is unset"


# The MI's channel ------------------------------------------------------------------------------


def test_opening_the_channel_creates_it_invites_the_role_holders_and_pins_the_rules(
    mi: MajorIncident, alice: Any, carol: Any, slack: StubServer, committed: Any
) -> None:
    _slack_id(alice, "UALICE")
    _slack_id(carol, "UCAROL")
    with committed():
        slack_service.open_incident_channel(mi.pk)
        slack_service.open_incident_channel(mi.pk)  # twice: one operation

    operation = OutboxMessage.objects.get(idempotency_key=f"slack:create:{mi.pk}")
    assert operation.status == OutboxStatus.SENT and operation.provider_message_id == "C1"
    row = IncidentChannel.objects.get(major_incident=mi)
    expected = channel_name(
        declared_at=mi.declared_at, summary=mi.summary or mi.incident.short_description
    )
    assert expected.startswith("incident-" + mi.declared_at.astimezone(UTC).strftime("%Y%m%d"))
    assert (row.name, row.channel_id) == (expected, "C1")
    assert row.ready_at is not None
    assert sorted(row.invited) == ["UALICE", "UCAROL"]
    assert row.pinned_ts == "1700000000.000001"

    methods = [r.path.removeprefix(API) for r in slack.requests]
    assert methods == [
        "conversations.create",
        "conversations.invite",
        "conversations.invite",
        "chat.postMessage",
        "pins.add",
    ]
    create = slack.to("/api/conversations.create")[0].json()
    assert create == {"name": expected, "is_private": False}
    invites = [r.json() for r in slack.to("/api/conversations.invite")]
    assert invites == [{"channel": "C1", "users": "UALICE"}, {"channel": "C1", "users": "UCAROL"}]
    rules = slack.to("/api/chat.postMessage")[0].json()
    assert rules["channel"] == "C1"
    assert f"{mi.number} declared" in rules["text"]
    assert "Updates only in this channel" in rules["text"]
    assert f"<{messages.war_room_url(mi)}|War room>" in rules["text"]
    assert slack.to("/api/pins.add")[0].json() == {"channel": "C1", "timestamp": row.pinned_ts}


def test_a_taken_name_gets_a_suffix(mi: MajorIncident, slack: StubServer, committed: Any) -> None:
    taken = Reply(200, {"ok": False, "error": "name_taken"})
    slack.script("/api/conversations.create", taken, taken)
    with committed():
        slack_service.open_incident_channel(mi.pk)
    names = [r.json()["name"] for r in slack.to("/api/conversations.create")]
    base = names[0]
    assert names == [base, f"{base}-2", f"{base}-3"]
    row = IncidentChannel.objects.get(major_incident=mi)
    assert row.name == f"{base}-3" and row.channel_id == "C1"


def test_a_failed_create_lets_go_of_the_claim_and_the_retry_creates_one_channel(
    mi: MajorIncident, slack: StubServer, committed: Any
) -> None:
    slack.script("/api/conversations.create", Reply(503, "busy"))
    with freeze_time(timezone.now()) as frozen:
        with committed():
            slack_service.open_incident_channel(mi.pk)
        operation = OutboxMessage.objects.get(idempotency_key=f"slack:create:{mi.pk}")
        assert operation.status == OutboxStatus.FAILED
        assert not IncidentChannel.objects.exists()
        frozen.move_to(operation.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.redrive()
    operation.refresh_from_db()
    assert operation.status == OutboxStatus.SENT
    assert IncidentChannel.objects.get(major_incident=mi).channel_id == "C1"


def test_a_rate_limited_invite_resumes_without_a_second_channel_or_second_rules_post(
    mi: MajorIncident, alice: Any, carol: Any, slack: StubServer, committed: Any
) -> None:
    _slack_id(alice, "UALICE")
    _slack_id(carol, "UCAROL")
    slack.script(
        "/api/conversations.invite",
        Reply(200, {"ok": True}),
        Reply(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"}),
    )
    slack.script("/api/pins.add", Reply(200, {"ok": False, "error": "internal_error"}))
    with freeze_time(timezone.now()) as frozen:
        with committed():
            slack_service.open_incident_channel(mi.pk)
        operation = OutboxMessage.objects.get(idempotency_key=f"slack:create:{mi.pk}")
        assert operation.status == OutboxStatus.FAILED
        row = IncidentChannel.objects.get(major_incident=mi)
        assert row.invited == ["UALICE"] and row.ready_at is None
        # A message for the channel waits meanwhile.
        with committed():
            services.enqueue([_update_row(mi, INCIDENT_CHANNEL)])
        waiting = OutboxMessage.objects.get(idempotency_key="k-slack")
        assert waiting.status == OutboxStatus.FAILED

        frozen.move_to(operation.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.deliver_one(operation.pk)  # pins.add fails temporarily this time
        frozen.tick(timedelta(hours=1))
        with committed():
            services.redrive()
    operation.refresh_from_db()
    waiting.refresh_from_db()
    assert operation.status == OutboxStatus.SENT
    assert waiting.status == OutboxStatus.SENT
    assert len(slack.to("/api/conversations.create")) == 1
    assert [r.json()["users"] for r in slack.to("/api/conversations.invite")] == [
        "UALICE",
        "UCAROL",
        "UCAROL",
    ]
    posts = [r.json() for r in slack.to("/api/chat.postMessage")]
    assert [p["channel"] for p in posts] == ["C1", "C1"]
    assert "Rules of this channel" in posts[0]["text"] and "blocks" in posts[1]
    pins = [r.json()["timestamp"] for r in slack.to("/api/pins.add")]
    assert pins == ["1700000000.000001"] * 2


def test_already_pinned_and_already_in_channel_count_as_done(
    mi: MajorIncident, alice: Any, slack: StubServer, committed: Any
) -> None:
    _slack_id(alice, "UALICE")
    slack.script(
        "/api/conversations.invite", Reply(200, {"ok": False, "error": "already_in_channel"})
    )
    slack.script("/api/pins.add", Reply(200, {"ok": False, "error": "already_pinned"}))
    with committed():
        slack_service.open_incident_channel(mi.pk)
    assert OutboxMessage.objects.get(idempotency_key=f"slack:create:{mi.pk}").status == "sent"
    assert IncidentChannel.objects.get(major_incident=mi).invited == ["UALICE"]


def test_a_later_role_holder_is_invited_once(
    mi: MajorIncident, carol: Any, slack: StubServer, committed: Any
) -> None:
    _ready_channel(mi, "CINC")
    _slack_id(carol, "UCAROL")
    with committed():
        slack_service.invite_to_incident_channel(mi.pk, carol.pk)
        slack_service.invite_to_incident_channel(mi.pk, carol.pk)
    assert [r.json() for r in slack.to("/api/conversations.invite")] == [
        {"channel": "CINC", "users": "UCAROL"}
    ]
    assert IncidentChannel.objects.get(major_incident=mi).invited == ["UCAROL"]
    operation = OutboxMessage.objects.get(idempotency_key=f"slack:invite:{mi.pk}:{carol.pk}")
    assert operation.status == OutboxStatus.SENT


def test_a_role_holder_without_a_slack_id_is_not_queued(
    mi: MajorIncident, carol: Any, slack: StubServer, committed: Any
) -> None:
    with committed():
        slack_service.invite_to_incident_channel(mi.pk, carol.pk)
    assert not OutboxMessage.objects.exists()


def test_a_security_mi_gets_no_channel_and_no_post_to_one(
    mi: MajorIncident, alice: Any, slack: StubServer, committed: Any
) -> None:
    _slack_id(alice, "UALICE")
    MajorIncident.objects.filter(pk=mi.pk).update(is_security=True)
    with committed():
        slack_service.open_incident_channel(mi.pk)
        slack_service.invite_to_incident_channel(mi.pk, alice.pk)
    assert not OutboxMessage.objects.exists()
    with committed():
        services.enqueue([_update_row(mi, INCIDENT_CHANNEL)])
    message = OutboxMessage.objects.get(idempotency_key="k-slack")
    assert message.status == OutboxStatus.DEAD
    assert message.last_error == "a security MI has no incident channel"
    assert slack.requests == [] and not IncidentChannel.objects.exists()


def test_nothing_is_queued_while_slack_is_off(
    mi: MajorIncident, settings: Any, committed: Any
) -> None:
    settings.SLACK_BOT_TOKEN = ""
    with committed():
        slack_service.open_incident_channel(mi.pk)
    assert not OutboxMessage.objects.exists()


def test_the_initial_notification_waits_for_the_channel_and_follows_the_pinned_rules(
    mi: MajorIncident, alice: Any, leadership: Any, slack: StubServer, committed: Any
) -> None:
    _slack_id(alice, "UALICE")
    with freeze_time(timezone.now()) as frozen:
        with committed():
            update = services.from_template(mi=mi, update_type="initial", slot="initial")
        assert update is not None
        waiting = OutboxMessage.objects.get(update=update, recipient=INCIDENT_CHANNEL)
        assert waiting.status == OutboxStatus.FAILED
        assert waiting.next_attempt_at > timezone.now() + timedelta(seconds=10)
        with committed():
            slack_service.open_incident_channel(mi.pk)
        # Un-parked by the channel's readiness: due now, sent by the next re-drive.
        waiting.refresh_from_db()
        assert waiting.next_attempt_at <= timezone.now()
        frozen.tick(timedelta(seconds=61))
        with committed():
            services.redrive()
    waiting.refresh_from_db()
    assert waiting.status == OutboxStatus.SENT
    posts = [r.json() for r in slack.to("/api/chat.postMessage")]
    assert [p["channel"] for p in posts] == ["C1", "C1"]
    assert "Rules of this channel" in posts[0]["text"]
    assert posts[1]["blocks"][0]["text"]["text"] == update.subject


def test_a_claim_held_by_a_live_worker_waits_and_one_left_by_a_dead_worker_is_taken_over(
    mi: MajorIncident, slack: StubServer, settings: Any, committed: Any
) -> None:
    with freeze_time("2025-03-03 09:00:00") as frozen:
        # Another worker inserted the row a moment ago and is talking to Slack.
        IncidentChannel.objects.create(major_incident=mi, name="incident-held")
        with committed():
            slack_service.open_incident_channel(mi.pk)
        operation = OutboxMessage.objects.get(idempotency_key=f"slack:create:{mi.pk}")
        assert operation.status == OutboxStatus.FAILED
        assert operation.last_error == "the channel is being created by another worker"
        assert slack.requests == []
        # That worker died: after the lease the claim is taken over and the channel created.
        frozen.tick(timedelta(seconds=settings.COMMS_SENDING_LEASE_SECONDS + 1))
        with committed():
            services.redrive()
    operation.refresh_from_db()
    assert operation.status == OutboxStatus.SENT
    row = IncidentChannel.objects.get(major_incident=mi)
    assert (row.name, row.channel_id) == ("incident-held", "C1")
    assert len(slack.to("/api/conversations.create")) == 1


def test_an_operation_for_a_ready_channel_does_nothing(
    mi: MajorIncident, slack: StubServer, committed: Any
) -> None:
    _ready_channel(mi, "CINC")
    with committed():
        slack_service.open_incident_channel(mi.pk)
    assert OutboxMessage.objects.get(idempotency_key=f"slack:create:{mi.pk}").status == "sent"
    assert slack.requests == []


def test_a_slack_that_does_not_answer_in_time_is_a_temporary_error(
    mi: MajorIncident, slack: StubServer, monkeypatch: pytest.MonkeyPatch, committed: Any
) -> None:
    monkeypatch.setattr("comms.channels.slack.TIMEOUT", 0.3)
    slack.script("/api/chat.postMessage", Reply(200, {"ok": True}, hang=1.5))
    with committed():
        services.enqueue([_update_row(mi, "C0LEADERS")])
    message = OutboxMessage.objects.get(idempotency_key="k-slack")
    assert message.status == OutboxStatus.FAILED
    assert "chat.postMessage" in message.last_error and "timed out" in message.last_error.lower()
