"""Email with an iCalendar part: a ``text/calendar; method=…`` alternative and an ``invite.ics``
attachment, over SMTP (a local aiosmtpd server) and through anymail's SES (moto); a PIR's
invitation reaches its IC this way end to end; mail without a calendar is as before."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from django.test import override_settings
from freezegun import freeze_time
from icalendar import Calendar, Event

from comms import channels, services
from comms.models import OutboxMessage, OutboxStatus
from pir.models import PostIncidentReview
from tests.comms.aws_peers import Moto, SMTPPeer, moto, ses_sent, smtp  # noqa: F401
from tests.incidents.mi_fixtures import T0, declare
from tests.pir.conftest import resolve

pytestmark = pytest.mark.django_db


def _ics(method: str = "REQUEST") -> str:
    calendar = Calendar()
    calendar.add("prodid", "-//test//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", "pir-1-1@mimdesk")
    event.add("sequence", 3)
    event.add("dtstamp", T0)
    event.add("dtstart", T0 + timedelta(days=2))
    event.add("summary", "Review")
    calendar.add_component(event)
    return calendar.to_ical().decode()


def _message(key: str, calendar: Any = None) -> services.NewMessage:
    payload: dict[str, Any] = {"text": "You are invited", "subject": "Invitation"}
    if calendar is not None:
        payload["calendar"] = calendar
    return services.NewMessage(
        channel="email",
        recipient="cio@example.test",
        key=key,
        purpose="test",
        subject="Invitation",
        payload=payload,
    )


def _calendar_parts(message: Any) -> list[Any]:
    return [part for part in message.walk() if part.get_content_type() == "text/calendar"]


def _assert_invitation(message: Any, method: str) -> None:
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in alternative.get_payload()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    inline = alternative.get_payload()[2]
    assert inline.get_param("method") == method and inline.get_content_charset() == "utf-8"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_param("method") == method
    for part in (inline, attachment):
        parsed = Calendar.from_ical(part.get_content())
        assert str(parsed["method"]) == method
        (event,) = parsed.walk("VEVENT")
        assert str(event["uid"]) == "pir-1-1@mimdesk" and int(event["sequence"]) == 3


def test_an_invitation_over_smtp_has_a_calendar_alternative_and_an_attachment(
    smtp: SMTPPeer,  # noqa: F811
) -> None:
    services.deliver(services.enqueue([_message("cal-smtp", {"method": "REQUEST", "ics": _ics()})]))
    (got,) = smtp.received
    _assert_invitation(got.message, "REQUEST")
    plain: Any = got.message.get_body(("plain",))
    assert "You are invited" in plain.get_content()
    assert got.message["Content-Type"].count("charset") <= 1


def test_a_cancellation_carries_method_cancel(smtp: SMTPPeer) -> None:  # noqa: F811
    services.deliver(
        services.enqueue([_message("cal-cancel", {"method": "CANCEL", "ics": _ics("CANCEL")})])
    )
    _assert_invitation(smtp.received[0].message, "CANCEL")


def test_mail_without_a_calendar_is_unchanged(smtp: SMTPPeer) -> None:  # noqa: F811
    services.deliver(services.enqueue([_message("plain")]))
    message = smtp.received[0].message
    assert message.get_content_type() == "multipart/alternative"
    assert _calendar_parts(message) == []


def test_a_broken_calendar_payload_is_dead_at_once_not_retried(smtp: SMTPPeer) -> None:  # noqa: F811
    services.deliver(
        services.enqueue(
            [
                _message("no-ics", {"method": "REQUEST"}),
                _message("bad-method", {"method": "DELETE", "ics": _ics()}),
            ]
        )
    )
    assert smtp.received == []
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.DEAD}


@pytest.fixture
def ses(moto: Moto) -> Iterator[Moto]:  # noqa: F811
    with override_settings(
        EMAIL_BACKEND="anymail.backends.amazon_ses.EmailBackend", MIM_SES_SEND_RATE=100
    ):
        channels.reset()
        yield moto


def test_an_invitation_through_ses_carries_the_same_parts(ses: Moto) -> None:
    services.deliver(services.enqueue([_message("cal-ses", {"method": "REQUEST", "ics": _ics()})]))
    (sent,) = ses_sent()
    raw = email.message_from_string(sent.raw_data, policy=email.policy.default)
    assert isinstance(raw, EmailMessage)
    _assert_invitation(raw, "REQUEST")


def test_a_resolved_mis_review_invitation_arrives_over_smtp(
    smtp: SMTPPeer,  # noqa: F811
    p1: Any,
    alice: Any,
    committed: Any,
) -> None:
    alice.email = "alice@example.test"
    alice.save(update_fields=["email"])
    with freeze_time(T0):
        mi = declare(p1, alice, bridge_link="https://bridge.example.test/room")
    resolve(mi, alice, committed, at=T0 + timedelta(hours=1))
    (got,) = smtp.received
    assert got.rcpt_tos == ["alice@example.test"]
    message = got.message
    (inline, attachment) = _calendar_parts(message)
    assert inline.get_param("method") == "REQUEST"
    assert b"Content-Type: text/calendar; method=REQUEST; charset=utf-8" in message.as_bytes()
    assert attachment.get_filename() == "invite.ics"
    (event,) = Calendar.from_ical(inline.get_content()).walk("VEVENT")
    review = PostIncidentReview.objects.get(major_incident=mi)
    assert event.decoded("dtstart") == T0 + timedelta(hours=49)
    assert str(event["uid"]) == review.ical_uid
    assert str(event["location"]) == "https://bridge.example.test/room"
    assert message["Subject"].startswith(f"Invitation: post-incident review of {mi.number}")
