"""The Slack channel of an MI: one per MI, claimed by a row before Slack is asked."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident


class IncidentChannel(models.Model):
    """The one-to-one is the lock: of two workers racing to create the MI's channel, one inserts
    this row and creates the channel; the other finds the row and waits for its ``channel_id``."""

    major_incident = models.OneToOneField(
        MajorIncident, on_delete=models.CASCADE, related_name="slack_channel"
    )
    name = models.CharField(max_length=80)
    channel_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    invited = models.JSONField(default=list, blank=True, help_text="Slack user ids invited")
    pinned_ts = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name = "incident Slack channel"

    def __str__(self) -> str:
        return f"{self.major_incident.number}: #{self.name}"
