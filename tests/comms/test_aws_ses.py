"""Email through Amazon SES (django-anymail's SES v2 backend) against moto's server mode on
loopback: delivered, paced, retried when the endpoint is down, backed off when throttled (a
local stub speaking SES v2's error answer: moto cannot throttle), dead when rejected."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from freezegun import freeze_time

from comms import channels, services
from comms.channels import aws
from comms.models import AttemptOutcome, DeliveryAttempt, OutboxMessage, OutboxStatus
from incidents.models import MajorIncident
from tests.comms.aws_peers import SENDER, Moto, moto, ses_recipients, ses_sent  # noqa: F401
from tests.stub_http import Reply, StubServer

pytestmark = pytest.mark.django_db

SES = "anymail.backends.amazon_ses.EmailBackend"


@pytest.fixture
def ses(moto: Moto) -> Iterator[Moto]:  # noqa: F811
    with override_settings(EMAIL_BACKEND=SES, MIM_SES_SEND_RATE=100):
        channels.reset()
        yield moto


def _message(key: str, recipient: str, **payload: Any) -> services.NewMessage:
    return services.NewMessage(
        channel="email",
        recipient=recipient,
        key=key,
        purpose="test",
        subject="Checkout is down",
        payload={"text": "Current impact: none", **payload},
    )


def test_an_initial_notification_reaches_each_leader_once_through_ses(
    ses: Moto, mi: MajorIncident, leadership: Any, committed: Any
) -> None:
    with committed():
        update = services.from_template(mi=mi, update_type="initial", slot="initial")
    assert update is not None
    rows = OutboxMessage.objects.filter(update=update, channel="email")
    assert set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}
    sent = ses_sent()
    assert len(sent) == 2
    assert sorted(ses_recipients()) == [
        "cio@example.test",
        "cto@example.test",
    ]
    # The provider's id is SES's MessageId, as moto answered it.
    assert sorted(rows.values_list("provider_message_id", flat=True)) == sorted(m.id for m in sent)
    raw = email.message_from_string(sent[0].raw_data, policy=email.policy.default)
    assert raw["From"] == SENDER
    assert raw["Subject"].startswith(f"[{mi.number}] Major incident")
    text = raw.get_body(("plain",)).get_content()
    html = raw.get_body(("html",)).get_content()
    assert "Current impact:" in text and f"/war-rooms/{mi.number}/" in text
    assert "<th" in html and "What you should do" in html
    assert f'href="http://localhost:8000/war-rooms/{mi.number}/"' in html
    # moto's HTTP API agrees: two messages accepted, no more.
    data = requests.get(f"{ses.url}/moto-api/data.json", timeout=10).json()
    assert sorted(m["id"] for m in data["ses"]["RawMessage"]) == sorted(m.id for m in sent)


def test_user_text_is_escaped_in_the_html_part(ses: Moto, mi: MajorIncident) -> None:
    with override_settings(MIM_SES_SEND_RATE=100):
        services.deliver(
            services.enqueue(
                [
                    _message(
                        "esc",
                        "cio@example.test",
                        parts={
                            "current_impact": "<script>alert(1)</script>",
                            "current_action": "a & b",
                            "user_action": "none",
                        },
                        mi={"number": "MI-1", "url": "http://x.test/?a=1&b=<2>"},
                    )
                ]
            )
        )
    raw = email.message_from_string(ses_sent()[0].raw_data, policy=email.policy.default)
    html = raw.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a &amp; b" in html and 'href="http://x.test/?a=1&amp;b=&lt;2&gt;"' in html


def test_an_unverified_sender_is_rejected_and_dead_at_once(
    ses: Moto, mi: MajorIncident, committed: Any
) -> None:
    with override_settings(MIM_SENDER_EMAIL="nobody@unverified.example"), committed():
        services.enqueue([_message("rejected", "cio@example.test")])
    row = OutboxMessage.objects.get(idempotency_key="rejected")
    assert row.status == OutboxStatus.DEAD and row.attempts == 1
    assert "MessageRejected" in row.last_error
    attempt = DeliveryAttempt.objects.get(message=row)
    assert attempt.outcome == AttemptOutcome.PERMANENT
    assert ses_sent() == []


def test_the_endpoint_down_then_up_delivers_every_message_once(
    ses: Moto, mi: MajorIncident, committed: Any
) -> None:
    addresses = [f"user{i}@example.test" for i in range(6)]
    ses.stop()
    with freeze_time("2026-03-03 09:00:00", tick=True) as frozen:
        with committed():
            services.enqueue([_message(f"down-{a}", a) for a in addresses])
        rows = OutboxMessage.objects.filter(idempotency_key__startswith="down-")
        assert set(rows.values_list("status", flat=True)) == {OutboxStatus.FAILED}
        assert all(
            "EndpointConnectionError" in e for e in rows.values_list("last_error", flat=True)
        )
        assert ses_sent() == []

        # Still down at the first re-drive: failed again, later.
        frozen.tick(timedelta(minutes=2))
        with committed():
            services.redrive()
        assert set(rows.values_list("status", flat=True)) == {OutboxStatus.FAILED}

        ses.start()
        frozen.tick(timedelta(hours=2))
        with committed():
            services.redrive()
        assert set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}
        # A second re-drive (beat ran twice) and a duplicated task send nothing more.
        frozen.tick(timedelta(minutes=5))
        with committed():
            services.redrive()
        services.deliver(list(rows.values_list("id", flat=True)))
    destinations = ses_recipients()
    assert sorted(destinations) == sorted(addresses)
    assert len(destinations) == len(set(destinations))
    assert all(r.attempts == 3 for r in rows)


@pytest.fixture
def ses_stub(moto: Moto) -> Iterator[StubServer]:  # noqa: F811
    """A stand-in SES v2 endpoint (moto cannot throttle): SES's JSON error answers, then success."""
    with StubServer() as stub, override_settings(EMAIL_BACKEND=SES, AWS_ENDPOINT_URL=stub.url):
        channels.reset()
        yield stub


def test_throttling_backs_off_and_then_delivers_once(
    ses_stub: StubServer, mi: MajorIncident, committed: Any
) -> None:
    throttled = Reply(
        429,
        {"__type": "TooManyRequestsException", "message": "Maximum sending rate exceeded."},
        headers={"x-amzn-ErrorType": "TooManyRequestsException"},
    )
    ses_stub.script("/v2/email/outbound-emails", throttled)
    ses_stub.default = Reply(200, {"MessageId": "ses-stub-0001"})
    with override_settings(MIM_SES_SEND_RATE=100), freeze_time("2026-03-03 09:00:00") as frozen:
        with committed():
            services.enqueue([_message("throttled", "cio@example.test")])
        row = OutboxMessage.objects.get(idempotency_key="throttled")
        assert row.status == OutboxStatus.FAILED
        assert "TooManyRequestsException" in row.last_error
        assert row.next_attempt_at >= timezone.now() + timedelta(seconds=aws.THROTTLE_RETRY_AFTER)
        attempt = DeliveryAttempt.objects.get(message=row)
        assert attempt.outcome == AttemptOutcome.TEMPORARY
        assert attempt.retry_after == aws.THROTTLE_RETRY_AFTER
        # Too early: the re-drive leaves it alone.
        with committed():
            services.redrive()
        assert OutboxMessage.objects.get(pk=row.pk).attempts == 1
        frozen.tick(timedelta(minutes=5))
        with committed():
            services.redrive()
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and row.provider_message_id == "ses-stub-0001"
    sends = [r for r in ses_stub.requests if r.path == "/v2/email/outbound-emails"]
    assert len(sends) == 2


def test_the_send_rate_comes_from_get_account_and_is_cached(ses_stub: StubServer) -> None:
    ses_stub.script("/v2/email/account", Reply(200, {"SendQuota": {"MaxSendRate": 14.0}}))
    with override_settings(MIM_SES_SEND_RATE=0):
        assert aws.ses_max_send_rate() == 14.0
        assert aws.ses_max_send_rate() == 14.0
    assert [r.path for r in ses_stub.requests] == ["/v2/email/account"]


def test_without_get_account_the_rate_falls_back_to_v1_get_send_quota(ses: Moto) -> None:
    # moto implements no SES v2 GetAccount; v1 GetSendQuota answers moto's sandbox rate.
    cache.clear()
    with override_settings(MIM_SES_SEND_RATE=0):
        assert aws.ses_max_send_rate() == 1.0


def test_ses_is_off_without_a_region() -> None:
    with override_settings(EMAIL_BACKEND=SES, AWS_REGION=""):
        channels.reset()
        assert not channels.enabled("email")
        assert "AWS_REGION is unset" in channels.off_reasons()["email"]


def test_region_and_endpoint_come_from_settings() -> None:
    with override_settings(AWS_REGION="eu-central-1", AWS_ENDPOINT_URL="http://127.0.0.1:9"):
        made = aws.client("sesv2")
        assert made.meta.region_name == "eu-central-1"
        assert made.meta.endpoint_url == "http://127.0.0.1:9"
        assert aws.client("sesv2") is made


@pytest.mark.parametrize("address", ["not an address", "two@@example.test"])
def test_an_invalid_address_is_dead_at_once(
    ses: Moto, mi: MajorIncident, committed: Any, address: str
) -> None:
    with committed():
        services.enqueue([_message("invalid", address)])
    row = OutboxMessage.objects.get(idempotency_key="invalid")
    assert row.status == OutboxStatus.DEAD and row.attempts == 1, row.last_error
    assert DeliveryAttempt.objects.get(message=row).outcome == AttemptOutcome.PERMANENT
    assert ses_sent() == []


@pytest.mark.parametrize(
    ("code", "status", "message", "permanent", "retry_after"),
    [
        ("Throttling", 400, "Maximum sending rate exceeded.", False, aws.THROTTLE_RETRY_AFTER),
        ("TooManyRequestsException", 429, "", False, aws.THROTTLE_RETRY_AFTER),
        ("SomethingNew", 400, "Maximum sending rate exceeded.", False, aws.THROTTLE_RETRY_AFTER),
        ("ServiceUnavailable", 503, "", False, None),
        ("InternalFailure", 500, "", False, None),
        ("MessageRejected", 400, "Email address is not verified.", True, None),
        ("NotFound", 404, "Topic does not exist", True, None),
        ("InvalidParameter", 400, "", True, None),
        ("AuthorizationError", 403, "", True, None),
        ("SomethingElse", 400, "", True, None),
    ],
)
def test_aws_errors_are_told_apart(
    code: str, status: int, message: str, permanent: bool, retry_after: float | None
) -> None:
    from botocore.exceptions import ClientError

    error = ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "SendEmail",
    )
    mapped = aws.transport_error(error, "SES SendEmail")
    assert (mapped.permanent, mapped.retry_after) == (permanent, retry_after)
    assert code in mapped.message


def test_an_unreachable_endpoint_is_temporary() -> None:
    from botocore.exceptions import EndpointConnectionError

    mapped = aws.transport_error(EndpointConnectionError(endpoint_url="http://x"), "SNS Publish")
    assert not mapped.permanent and "EndpointConnectionError" in mapped.message
