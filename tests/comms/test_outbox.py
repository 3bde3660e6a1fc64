"""The outbox's core: one row per recipient × channel, delivered once, retried with backoff,
given up on permanent errors, taken back from a lost worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from freezegun import freeze_time

from comms import services
from comms.channels import TransportError
from comms.channels.email import EmailChannel
from comms.models import DeliveryAttempt, OutboxMessage, OutboxStatus, StakeholderUpdate
from incidents.models import MajorIncident, TimelineEntry, TimelineKind

pytestmark = pytest.mark.django_db


def test_an_initial_notification_from_the_template_emails_each_leader_once(
    mi: MajorIncident, leadership: Any, committed: Any
) -> None:
    with committed():
        update = services.from_template(mi=mi, update_type="initial", slot="initial")
    assert update is not None and update.status == "sent"
    rows = OutboxMessage.objects.filter(update=update, channel="email")
    assert sorted(rows.values_list("recipient", flat=True)) == [
        "cio@example.test",
        "cto@example.test",
    ]
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert sorted(m.to[0] for m in mail.outbox) == ["cio@example.test", "cto@example.test"]
    assert mail.outbox[0].subject.startswith(f"[{mi.number}] Major incident")
    assert "Current impact:" in mail.outbox[0].body
    # The same slot again: nothing new.
    assert services.from_template(mi=mi, update_type="initial", slot="initial") is None
    assert len(mail.outbox) == 2
    entry = TimelineEntry.objects.get(major_incident=mi, kind=TimelineKind.STAKEHOLDER_UPDATE)
    assert "automatically" in entry.message


def test_enqueueing_a_key_twice_keeps_one_row_and_sends_once(
    mi: MajorIncident, committed: Any
) -> None:
    message = services.NewMessage(
        channel="email",
        recipient="x@example.test",
        key="k1",
        purpose="test",
        payload={"text": "hello"},
        subject="s",
    )
    with committed():
        services.enqueue([message])
    with committed():
        services.enqueue([message])
    assert OutboxMessage.objects.filter(idempotency_key="k1").count() == 1
    assert len(mail.outbox) == 1
    row = OutboxMessage.objects.get(idempotency_key="k1")
    services.deliver([row.pk, row.pk])
    assert len(mail.outbox) == 1
    assert DeliveryAttempt.objects.filter(message=row).count() == 1


def test_a_temporary_error_is_retried_later_and_a_permanent_one_is_dead(
    mi: MajorIncident, monkeypatch: pytest.MonkeyPatch, committed: Any
) -> None:
    errors = [TransportError("503", retry_after=120), TransportError("bad address", permanent=True)]

    def failing_send(self: Any, message: Any) -> Any:
        raise errors.pop(0)

    monkeypatch.setattr(EmailChannel, "send", failing_send)
    with freeze_time("2025-03-03 09:00:00"):
        with committed():
            services.enqueue([services.NewMessage("email", "y@example.test", "k2", "test")])
        row = OutboxMessage.objects.get(idempotency_key="k2")
        assert row.status == OutboxStatus.FAILED and row.attempts == 1
        assert row.next_attempt_at >= timezone.now() + timedelta(seconds=120)
        assert services.redrive()["queued"] == 0  # not due yet
    with freeze_time("2025-03-03 09:10:00"):
        with committed():
            services.redrive()
        row.refresh_from_db()
        assert row.status == OutboxStatus.DEAD and row.attempts == 2
        assert row.last_error == "bad address"
    outcomes = list(row.deliveries.values_list("outcome", flat=True))
    assert outcomes == ["temporary", "permanent"]


def test_a_row_a_lost_worker_left_sending_is_sent_after_the_lease(
    mi: MajorIncident, committed: Any
) -> None:
    with freeze_time("2025-03-03 09:00:00"):
        row = OutboxMessage.objects.create(
            idempotency_key="k3",
            channel="email",
            recipient="z@example.test",
            purpose="test",
            status=OutboxStatus.SENDING,
            claimed_at=timezone.now(),
            attempts=1,
        )
        assert services.redrive()["reclaimed"] == 0
    with freeze_time("2025-03-03 09:11:00"), committed():
        assert services.redrive() == {"reclaimed": 1, "queued": 1}
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and len(mail.outbox) == 1


def test_a_missing_part_is_refused_naming_it(mi: MajorIncident, alice: Any) -> None:
    from incidents.errors import DomainError

    with pytest.raises(DomainError) as caught:
        services.create_update(
            mi=mi,
            actor=alice,
            update_type="cadence",
            current_impact="Checkout down",
            current_action="",
            user_action="Wait",
            next_update_at=timezone.now(),
        )
    assert caught.value.field == "current_action"
    assert not StakeholderUpdate.objects.exists()
