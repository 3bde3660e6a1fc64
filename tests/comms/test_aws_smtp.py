"""Email through Django's SMTP backend to a local aiosmtpd server: text and HTML parts, the
Message-ID kept, a 5xx refusal dead, a 4xx one and a closed port retried."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from freezegun import freeze_time

from comms import services
from comms.channels.email import message_id
from comms.models import AttemptOutcome, DeliveryAttempt, OutboxMessage, OutboxStatus
from incidents.models import MajorIncident
from tests.comms.aws_peers import SENDER, SMTPPeer, free_port, smtp  # noqa: F401

pytestmark = pytest.mark.django_db


def _message(key: str, recipient: str) -> services.NewMessage:
    return services.NewMessage(
        channel="email",
        recipient=recipient,
        key=key,
        purpose="test",
        subject="Checkout <down>",
        payload={"text": "hello", "mi": {"number": "MI1", "url": "http://mim.test/war-rooms/MI1/"}},
    )


def test_an_update_arrives_with_a_text_and_an_html_part(
    smtp: SMTPPeer,  # noqa: F811
    mi: MajorIncident,
    leadership: Any,
    committed: Any,
) -> None:
    mi.summary = "Checkout <b>down</b> & payments"
    mi.save(update_fields=["summary"])
    with committed():
        update = services.from_template(mi=mi, update_type="initial", slot="initial")
    assert update is not None
    assert sorted(r for got in smtp.received for r in got.rcpt_tos) == [
        "cio@example.test",
        "cto@example.test",
    ]
    got = smtp.received[0]
    assert got.mail_from == SENDER
    message = got.message
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Current impact:" in text and "What you should do:" in text
    assert f"War room: http://localhost:8000/war-rooms/{mi.number}/" in text
    for label in ("Current impact", "What we are doing", "What you should do", "Next update"):
        assert label in html
    assert "<b>down</b>" not in html
    assert f'<a href="http://localhost:8000/war-rooms/{mi.number}/">' in html
    row = OutboxMessage.objects.get(update=update, recipient=got.rcpt_tos[0])
    assert row.status == OutboxStatus.SENT
    # The provider id is the Message-ID the server received, the same for every attempt.
    assert row.provider_message_id == message["Message-ID"] == message_id(row.idempotency_key)


def test_a_recipient_refused_with_5xx_is_dead_and_with_4xx_retried(
    smtp: SMTPPeer,  # noqa: F811
    mi: MajorIncident,
    committed: Any,
) -> None:
    smtp.handler.refuse = {
        "gone@example.test": "550 5.1.1 No such user",
        "full@example.test": "452 4.2.2 Mailbox full",
    }
    with committed():
        services.enqueue(
            [_message("gone", "gone@example.test"), _message("full", "full@example.test")]
        )
    gone = OutboxMessage.objects.get(idempotency_key="gone")
    full = OutboxMessage.objects.get(idempotency_key="full")
    assert gone.status == OutboxStatus.DEAD and "550" in gone.last_error
    assert DeliveryAttempt.objects.get(message=gone).outcome == AttemptOutcome.PERMANENT
    assert full.status == OutboxStatus.FAILED and "452" in full.last_error
    assert smtp.received == []


def test_a_closed_port_is_temporary_and_delivered_when_the_server_is_up(
    smtp: SMTPPeer,  # noqa: F811
    mi: MajorIncident,
    committed: Any,
) -> None:
    with freeze_time("2026-03-03 09:00:00") as frozen:
        with override_settings(EMAIL_PORT=free_port()), committed():
            services.enqueue([_message("closed", "cio@example.test")])
        row = OutboxMessage.objects.get(idempotency_key="closed")
        assert row.status == OutboxStatus.FAILED
        assert "ConnectionRefusedError" in row.last_error
        frozen.tick(timedelta(hours=1))
        with committed():
            services.redrive()
            services.redrive()
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and row.attempts == 2
    assert [got.rcpt_tos for got in smtp.received] == [["cio@example.test"]]
