"""What reaches in: monitoring sources and their payloads, alert groups and alerts, the rules
that map alert labels onto the CMDB and the priority matrix, and mail read from the mailbox."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from incidents.models import ConfigurationItem, Impact, Incident, Urgency


class InboundKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    DATADOG = "datadog", "Datadog"
    WEBHOOK = "webhook", "Generic JSON webhook"


class InboundSource(models.Model):
    """One monitoring tool posting to ``/api/inbound/<kind>/``, known by its own secret: a bearer
    token (Alertmanager's ``http_config``, Datadog's custom header, the generic webhook) or, for
    Grafana, the key of its HMAC signature."""

    kind = models.CharField(max_length=16, choices=InboundKind.choices)
    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    secret = models.CharField(
        max_length=128, help_text="The bearer token, or Grafana's HMAC key; shown once on creation"
    )
    default_ci = models.ForeignKey(
        ConfigurationItem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The CI of an alert no label rule places",
    )
    default_impact = models.PositiveSmallIntegerField(choices=Impact.choices, default=Impact.MEDIUM)
    default_urgency = models.PositiveSmallIntegerField(
        choices=Urgency.choices, default=Urgency.MEDIUM
    )
    assignment_group = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["kind", "enabled"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class InboundOutcome(models.TextChoices):
    CREATED = "created", "Opened an incident"
    UPDATED = "updated", "Updated an incident"
    RESOLVED = "resolved", "Resolved an incident"
    NOTED = "noted", "Noted on an open major incident"
    IGNORED = "ignored", "Ignored"
    MALFORMED = "malformed", "Malformed (400)"


class InboundEvent(models.Model):
    """One payload as it came (its body and the headers that matter) with what parsing made of
    it. Kept for inspection, malformed ones included; never for a request that failed to
    authenticate."""

    source = models.ForeignKey(InboundSource, on_delete=models.CASCADE, related_name="events")
    received_at = models.DateTimeField(default=timezone.now)
    body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=InboundOutcome.choices)
    error = models.TextField(blank=True)
    parse_result = models.JSONField(default=dict, blank=True)
    dedup_key = models.CharField(max_length=255, blank=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["source", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.source.name} at {self.received_at:%Y-%m-%d %H:%M:%S}: {self.outcome}"


class AlertGroupStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertGroup(models.Model):
    """The incident of one dedup key of one source (Alertmanager's ``groupKey``, Grafana's, a
    Datadog monitor, the generic body's ``dedup_key``). The unique pair is the lock: every
    payload of a key takes this row ``FOR UPDATE`` first, so a storm of repeats opens one
    incident. ``key_hash`` is the SHA-256 of ``dedup_key``, which may be longer than an index
    takes."""

    source = models.ForeignKey(InboundSource, on_delete=models.CASCADE, related_name="groups")
    key_hash = models.CharField(max_length=64)
    dedup_key = models.TextField()
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alert_groups"
    )
    status = models.CharField(
        max_length=16, choices=AlertGroupStatus.choices, default=AlertGroupStatus.FIRING
    )
    labels = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "key_hash"], name="uniq_alert_group_key")
        ]

    def __str__(self) -> str:
        return f"{self.source.name}: {self.dedup_key[:60]} ({self.status})"


class Alert(models.Model):
    """One alert of a group, by its fingerprint: a repeat updates the row."""

    group = models.ForeignKey(AlertGroup, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=128)
    status = models.CharField(
        max_length=16, choices=AlertGroupStatus.choices, default=AlertGroupStatus.FIRING
    )
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    generator_url = models.URLField(max_length=1000, blank=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group", "fingerprint"]
        constraints = [
            models.UniqueConstraint(fields=["group", "fingerprint"], name="uniq_alert_fingerprint")
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint} ({self.status})"


class LabelRule(models.Model):
    """Where an alert goes: when its label ``label`` fully matches the regular expression
    ``pattern``, the rule sets what it names (CI, impact, urgency, group). Rules run in ``order``;
    for each attribute the first rule that sets it wins; the source's defaults fill the rest."""

    name = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=100)
    enabled = models.BooleanField(default=True)
    source = models.ForeignKey(
        InboundSource,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="label_rules",
        help_text="Empty: every source",
    )
    label = models.CharField(max_length=200, help_text="e.g. service, severity, team")
    pattern = models.CharField(max_length=500, help_text="A regular expression, matched in full")
    ci = models.ForeignKey(
        ConfigurationItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    impact = models.PositiveSmallIntegerField(choices=Impact.choices, null=True, blank=True)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, null=True, blank=True)
    assignment_group = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.label} ~ {self.pattern}"


class MailOutcome(models.TextChoices):
    CREATED = "created", "Opened an incident"
    REPLIED = "replied", "Added to an incident's timeline"
    IGNORED = "ignored", "Ignored (auto-reply, loop, bulk)"
    FAILED = "failed", "Could not be read"


class MailboxState(models.Model):
    """How far the poller has read one IMAP folder: the UIDs are only meaningful under one
    UIDVALIDITY; when the server changes it, the folder is read again and Message-IDs keep each
    message once."""

    mailbox = models.CharField(max_length=500, unique=True)
    uid_validity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.mailbox} (UID {self.uid_validity}:{self.last_uid})"


class InboundMail(models.Model):
    """One message read from the mailbox, handled once: unique by folder + UIDVALIDITY + UID,
    and by Message-ID."""

    mailbox = models.CharField(max_length=500)
    uid_validity = models.BigIntegerField()
    uid = models.BigIntegerField()
    message_id = models.CharField(max_length=998, blank=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    sender = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=MailOutcome.choices)
    reason = models.TextField(blank=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="mails"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound mail"
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "uid_validity", "uid"], name="uniq_inbound_mail_uid"
            ),
            models.UniqueConstraint(
                fields=["message_id"],
                condition=~models.Q(message_id=""),
                name="uniq_inbound_mail_message_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id or self.uid}: {self.outcome}"
