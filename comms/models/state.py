"""What comms keeps per MI beyond the incidents app's fields, and the MI's records elsewhere."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from incidents.models import MajorIncident


class CommsState(models.Model):
    """The communication clock of one MI. The stakeholder cadence itself is the incidents app's
    ``MajorIncident.next_update_due_at`` (DESIGN); the executive one and the reminder are here.

    Each ``*_for`` field holds the due time its event was done for: the scheduler claims an event
    with a conditional UPDATE on it, so two schedulers at once do it once.
    """

    major_incident = models.OneToOneField(
        MajorIncident, on_delete=models.CASCADE, related_name="comms_state"
    )
    next_executive_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reminder_sent_for = models.DateTimeField(null=True, blank=True)
    all_clear_sent_at = models.DateTimeField(null=True, blank=True)
    investigation_completed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Security MIs: until set, templates carry no technical detail",
    )
    investigation_completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "communication state"

    def __str__(self) -> str:
        return f"{self.major_incident.number} communication"


class ExternalRecord(models.Model):
    """The id a provider gave an MI (a Statuspage incident, a PagerDuty dedup key, an Opsgenie
    alias): later messages update that record instead of opening another."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="external_records"
    )
    channel = models.CharField(max_length=16)
    external_id = models.CharField(max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "channel"], name="uniq_external_record"
            )
        ]

    def __str__(self) -> str:
        return f"{self.major_incident.number} on {self.channel}: {self.external_id}"
