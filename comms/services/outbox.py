"""The outbox: enqueue messages once, deliver each through its channel, retry what failed.

Delivery is at most once per claim: a worker sends a row only after moving it from pending or
failed to ``sending`` with a conditional UPDATE that exactly one worker can win (healthchecks'
claim). The channel is called outside any transaction (network I/O never holds a lock). A worker
that dies between the claim and the result leaves the row ``sending``; after the lease the
re-drive marks it failed and it is tried again — the one window where a provider may see a
message twice, narrowed by sending our idempotency key to providers that take one.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from .. import channels
from ..channels import TransportError
from ..models import (
    RETRYABLE,
    AttemptOutcome,
    DeliveryAttempt,
    OutboxMessage,
    OutboxStatus,
)

logger = logging.getLogger(__name__)

BATCH = 50  # messages per delivery task

# A message whose payload says ``in_order`` waits for every earlier (lower id) ``in_order`` message
# of its MI on its channel to be settled (sent or dead): pages, where an acknowledge must not
# reach the provider before the trigger it acknowledges.
IN_ORDER = "in_order"
# What a service does once a message of a purpose is sent (the paging service's timeline row),
# registered by the service's module; called by the worker that won the claim, so once.
AFTER_SENT: dict[str, Callable[[OutboxMessage], None]] = {}
# How long a message waits for an earlier one being sent right now, before it looks again.
WAIT_FOR_SENDING = timedelta(seconds=30)


@dataclass
class NewMessage:
    channel: str
    recipient: str
    key: str
    purpose: str
    payload: dict[str, Any] = field(default_factory=dict)
    subject: str = ""
    major_incident_id: int | None = None
    update_id: int | None = None


def idempotency_key(*parts: object) -> str:
    """A key from its parts; a long or odd part (an address, a URL) goes in as its hash."""
    out = []
    for part in parts:
        text = str(part)
        out.append(
            text
            if len(text) <= 40 and text.isprintable() and ":" not in text
            else hashlib.sha256(text.encode()).hexdigest()[:32]
        )
    return ":".join(out)[:255]


def enqueue(messages: Sequence[NewMessage]) -> list[int]:
    """Insert the messages not in the outbox yet (by key) and deliver them after commit.

    Returns the ids of every row the keys name, new or not; a key enqueued before keeps its row
    (and its status): nothing is sent twice.
    """
    if not messages:
        return []
    now = timezone.now()
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                idempotency_key=m.key,
                channel=m.channel,
                recipient=m.recipient[:1000],
                purpose=m.purpose,
                subject=m.subject[:300],
                payload=m.payload,
                major_incident_id=m.major_incident_id,
                update_id=m.update_id,
                next_attempt_at=now,
                created_at=now,
            )
            for m in messages
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    keys = [m.key for m in messages]
    ids: list[int] = []
    for start in range(0, len(keys), 500):
        ids += list(
            OutboxMessage.objects.filter(
                idempotency_key__in=keys[start : start + 500], status=OutboxStatus.PENDING
            ).values_list("id", flat=True)
        )
    schedule(ids)
    return ids


def schedule(ids: Iterable[int]) -> None:
    """Queue delivery tasks for ``ids`` once the transaction commits (in chunks of ``BATCH``)."""
    ids = sorted(ids)
    if not ids:
        return

    # By name, so that services never import the tasks that call them (incidents' enqueue.py).
    # Robust: a broker that refuses is logged; the rows wait for the every-minute re-drive.
    def send_tasks() -> None:
        deliver = current_app.tasks["comms.tasks.deliver"]
        for start in range(0, len(ids), BATCH):
            deliver.delay(ids[start : start + BATCH])

    send_tasks.__qualname__ = "send_task[comms.tasks.deliver]"
    transaction.on_commit(send_tasks, robust=True)


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """Exponential from ``COMMS_RETRY_BASE_SECONDS``, capped, with equal jitter (so a burst of
    failures does not retry in step); never sooner than the provider's ``Retry-After``."""
    base = settings.COMMS_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    base = min(base, settings.COMMS_RETRY_MAX_SECONDS)
    delay = random.uniform(base / 2, base)  # noqa: S311 (jitter, not a secret)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


def claim(message_id: int, now: datetime) -> bool:
    """Take the row for sending; True for exactly one caller, however many race."""
    return (
        OutboxMessage.objects.filter(
            pk=message_id, status__in=RETRYABLE, next_attempt_at__lte=now
        ).update(status=OutboxStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        == 1
    )


def deliver(message_ids: Iterable[int]) -> dict[str, int]:
    """Deliver each message that is due and not taken by another worker; counts by outcome."""
    counts = {"sent": 0, "failed": 0, "dead": 0, "skipped": 0}
    for message_id in message_ids:
        counts[deliver_one(message_id)] += 1
    return counts


def deliver_one(message_id: int) -> str:
    now = timezone.now()
    if not claim(message_id, now):
        return "skipped"
    message = OutboxMessage.objects.get(pk=message_id)
    if (message.payload or {}).get(IN_ORDER) and _wait_for_earlier(message, now):
        return "skipped"
    attempt = DeliveryAttempt.objects.create(message=message, number=message.attempts)
    channel = channels.get(message.channel) if message.channel in channels.REGISTRY else None
    if channel is None or not channels.enabled(message.channel):
        reason = channel.off_reason() if channel else f"unknown channel {message.channel!r}"
        return _finish(message, attempt, AttemptOutcome.OFF, f"channel off: {reason}")
    try:
        sent = channel.send(message)
    except TransportError as exc:
        outcome = AttemptOutcome.PERMANENT if exc.permanent else AttemptOutcome.TEMPORARY
        return _finish(message, attempt, outcome, exc.message, retry_after=exc.retry_after)
    except Exception as exc:  # a bug or an unforeseen library error: retried, and logged loudly
        logger.exception("channel %s failed on outbox message %s", message.channel, message.pk)
        return _finish(
            message, attempt, AttemptOutcome.TEMPORARY, f"{exc.__class__.__name__}: {exc}"
        )
    return _finish(message, attempt, AttemptOutcome.SENT, "", provider_id=sent.provider_message_id)


def _wait_for_earlier(message: OutboxMessage, now: datetime) -> bool:
    """Hand the claim back, not counted as an attempt, while an earlier ``in_order`` message of
    the same MI and channel is unsettled; it is due again when that one is next tried (and is
    re-queued as soon as that one is sent, by ``_release_next``)."""
    earlier = (
        OutboxMessage.objects.filter(
            major_incident_id=message.major_incident_id,
            channel=message.channel,
            pk__lt=message.pk,
            status__in=[*RETRYABLE, OutboxStatus.SENDING],
            **{f"payload__{IN_ORDER}": True},
        )
        .order_by("pk")
        .first()
    )
    if earlier is None:
        return False
    if earlier.status == OutboxStatus.SENDING:
        due = now + WAIT_FOR_SENDING
    else:
        due = max(earlier.next_attempt_at, now) + timedelta(seconds=1)
    OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.SENDING).update(
        # Back to what it was: pending if it was never tried, failed otherwise.
        status=Case(
            When(attempts__lte=1, then=Value(OutboxStatus.PENDING)),
            default=Value(OutboxStatus.FAILED),
        ),
        attempts=F("attempts") - 1,
        claimed_at=None,
        next_attempt_at=due,
        last_error=f"waiting for outbox message {earlier.pk} ({earlier.purpose}, "
        f"{earlier.status}) to be sent first",
    )
    return True


def _release_next(message: OutboxMessage) -> None:
    """An ``in_order`` message is settled (sent, or dead: waiting on it cannot help): queue the
    next one waiting for it at once."""
    waiting = (
        OutboxMessage.objects.filter(
            major_incident_id=message.major_incident_id,
            channel=message.channel,
            pk__gt=message.pk,
            status__in=RETRYABLE,
            **{f"payload__{IN_ORDER}": True},
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        OutboxMessage.objects.filter(pk=waiting, status__in=RETRYABLE).update(
            next_attempt_at=timezone.now()
        )
        schedule([waiting])


def _finish(
    message: OutboxMessage,
    attempt: DeliveryAttempt,
    outcome: str,
    error: str,
    *,
    retry_after: float | None = None,
    provider_id: str = "",
) -> str:
    now = timezone.now()
    attempt.finished_at = now
    attempt.outcome = outcome
    attempt.error = error[:4000]
    attempt.retry_after = retry_after
    attempt.save(update_fields=["finished_at", "outcome", "error", "retry_after"])
    fields: dict[str, Any] = {"claimed_at": None, "last_error": error[:4000]}
    if outcome == AttemptOutcome.SENT:
        fields.update(status=OutboxStatus.SENT, sent_at=now, provider_message_id=provider_id[:255])
        result = "sent"
    elif outcome == AttemptOutcome.TEMPORARY and message.attempts < settings.COMMS_MAX_ATTEMPTS:
        fields.update(
            status=OutboxStatus.FAILED,
            next_attempt_at=now + backoff(message.attempts, retry_after),
        )
        result = "failed"
    else:
        fields.update(status=OutboxStatus.DEAD)
        result = "dead"
    # Only the claimant writes the result: the row is still `sending` under its claim.
    OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.SENDING).update(**fields)
    if result in ("sent", "dead") and (message.payload or {}).get(IN_ORDER):
        _release_next(message)
    if result == "sent":
        message.provider_message_id = provider_id[:255]
        after = AFTER_SENT.get(message.purpose)
        if after is not None:
            try:
                after(message)
            except Exception:  # the page went out; a lost timeline row must not make it unsent
                logger.exception("after-sent step of outbox message %s failed", message.pk)
    if result != "sent":
        logger.warning(
            "outbox message %s (%s → %s) %s after attempt %s: %s",
            message.pk,
            message.channel,
            message.recipient,
            result,
            message.attempts,
            error,
        )
    return result


def redrive(*, now: datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """The periodic backstop: take back rows a lost worker left ``sending`` past the lease, and
    queue every row due a (re)try. Queued rows are claimed as usual, so a row queued twice (by
    this and by its first task) is still sent once."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.COMMS_SENDING_LEASE_SECONDS)
    lost = OutboxMessage.objects.filter(status=OutboxStatus.SENDING, claimed_at__lt=now - lease)
    reclaimed = lost.update(
        status=OutboxStatus.FAILED,
        claimed_at=None,
        next_attempt_at=now,
        last_error="the worker sending it was lost; trying again",
    )
    # Fresh pending rows have their own task in flight; give it a minute before doubling up.
    fresh_until = now - timedelta(seconds=60)
    due = list(
        OutboxMessage.objects.filter(status__in=RETRYABLE, next_attempt_at__lte=now)
        .exclude(status=OutboxStatus.PENDING, created_at__gt=fresh_until)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    schedule(due)
    return {"reclaimed": reclaimed, "queued": len(due)}


def retry_now(messages: Iterable[OutboxMessage]) -> int:
    """An operator's "retry now" (admin, war room): failed and dead rows back to pending."""
    ids = [m.pk for m in messages]
    count = OutboxMessage.objects.filter(
        pk__in=ids, status__in=[OutboxStatus.FAILED, OutboxStatus.DEAD]
    ).update(status=OutboxStatus.PENDING, next_attempt_at=timezone.now())
    schedule(ids)
    return count
