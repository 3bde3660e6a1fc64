"""A subscriber's mail on the wire: the RFC 8058 headers reach a real SMTP server (a local
aiosmtpd peer) and SES (moto's server mode) alike, and a payload cannot add other headers."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from comms import channels, services
from comms.channels.email import extra_headers
from comms.models import OutboxMessage, OutboxStatus
from comms.services import subscribers
from tests.comms.aws_peers import Moto, SMTPPeer, moto, ses_sent, smtp  # noqa: F401

pytestmark = pytest.mark.django_db
SES = "anymail.backends.amazon_ses.EmailBackend"


@pytest.fixture
def ses(moto: Moto) -> Iterator[Moto]:  # noqa: F811
    with override_settings(EMAIL_BACKEND=SES, MIM_SES_SEND_RATE=100):
        channels.reset()
        yield moto


def _subscriber_mail(make_subscriber: Callable[..., Any]) -> services.NewMessage:
    subscriber = make_subscriber("pat@example.test")
    [row] = subscribers._mails(
        [subscriber],
        key=("test-mail",),
        purpose="test",
        subject="[Status] Checkout",
        text="Checkout is slow.",
    )
    return row


def _check(raw: email.message.EmailMessage) -> None:
    assert raw["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = "".join(str(raw["List-Unsubscribe"]).split()).strip("<>")
    assert "/status/unsubscribe/" in url
    assert url in raw.get_body(("plain",)).get_content()


def test_the_headers_reach_an_smtp_server(
    smtp: SMTPPeer,  # noqa: F811
    make_subscriber: Callable[..., Any],
    committed: Any,
) -> None:
    with committed():
        services.enqueue([_subscriber_mail(make_subscriber)])
    [got] = smtp.received
    _check(got.message)
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT


def test_the_headers_reach_ses(
    ses: Moto,
    make_subscriber: Callable[..., Any],
    committed: Any,
) -> None:
    with committed():
        services.enqueue([_subscriber_mail(make_subscriber)])
    [sent] = ses_sent()
    _check(email.message_from_string(sent.raw_data, policy=email.policy.default))


def test_a_payload_sets_only_the_unsubscribe_headers_and_never_a_line_break() -> None:
    given = {
        "headers": {
            "List-Unsubscribe": "<https://x.test/u>\r\nBcc: victim@example.test",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "From": "ceo@example.test",
            "Bcc": "victim@example.test",
        }
    }
    assert extra_headers(given) == {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert extra_headers({"headers": ["not", "a", "dict"]}) == {}
    assert extra_headers({}) == {}
