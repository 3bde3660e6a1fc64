"""The outbox: every outbound message, one row per recipient × channel, and its attempts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident

from .plan import ChannelName
from .updates import StakeholderUpdate


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead (gave up)"


# Rows the re-drive looks at; the partial index below serves exactly this.
RETRYABLE = (OutboxStatus.PENDING, OutboxStatus.FAILED)


class OutboxMessage(models.Model):
    """One message to one recipient on one channel.

    ``idempotency_key`` is unique: whoever enqueues the same message twice (a retried task, two
    schedulers) gets the one row, so it is sent once. ``payload`` is what the channel formats
    (``subject``, ``text``, ``parts``, ``mi`` …; a channel may add its own keys).
    """

    idempotency_key = models.CharField(max_length=255, unique=True)
    channel = models.CharField(max_length=16, choices=ChannelName.choices)
    recipient = models.CharField(max_length=1000, help_text="Address, channel, topic or URL")
    major_incident = models.ForeignKey(
        MajorIncident, null=True, blank=True, on_delete=models.CASCADE, related_name="outbox"
    )
    update = models.ForeignKey(
        StakeholderUpdate, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox"
    )
    purpose = models.CharField(max_length=32, help_text="The update type or operation")
    subject = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "outbox message"
        indexes = [
            # comms.tasks.deliver_pending: the rows due a (re)try, oldest first.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "failed"]),
                name="outbox_due_idx",
            ),
            # A worker lost mid-send: rows left `sending` past the lease.
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status="sending"),
                name="outbox_sending_idx",
            ),
            models.Index(fields=["major_incident", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient} ({self.status})"


class AttemptOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    TEMPORARY = "temporary", "Temporary error"
    PERMANENT = "permanent", "Permanent error"
    OFF = "off", "Channel off"


class DeliveryAttempt(models.Model):
    """One try of one outbox message: written before the channel is called (healthchecks'
    ``Notification``), finished with its outcome after."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="deliveries")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, blank=True)
    error = models.TextField(blank=True)
    retry_after = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["message", "number"]
        constraints = [
            models.UniqueConstraint(fields=["message", "number"], name="uniq_delivery_attempt")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.message_id}: {self.outcome or 'running'}"
