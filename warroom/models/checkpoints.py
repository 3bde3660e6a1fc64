"""The first-hour checkpoints (the 60-minute framework): templates as data, one row per MI each."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident


class Fulfilment(models.TextChoices):
    """The event that ticks a checkpoint by itself (``manual``: only a person ticks it)."""

    MANUAL = "manual", "Ticked by hand"
    ROLES_ASSIGNED = "roles_assigned", "Roles assigned (IC, technical lead, communications lead)"
    SUBSYSTEM_OWNERS = "subsystem_owners", "Subsystem threads opened, each with an owner"
    ASSESSMENT_WRITTEN = "assessment_written", "Initial assessment written"
    INTERNAL_UPDATE = "internal_update", "First internal stakeholder update sent"
    EXTERNAL_UPDATE = "external_update", "First external (customer) update sent"
    RESOLUTION_CRITERIA = "resolution_criteria", '"Resolved" criteria written (a decision)'
    PIR_OWNER = "pir_owner", "Post-incident owner and deadline set"


class CheckpointTemplate(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    phase = models.CharField(max_length=80, help_text="e.g. 0–5 min: declare and mobilize")
    starts_after_minutes = models.PositiveIntegerField()
    due_after_minutes = models.PositiveIntegerField()
    fulfilled_by = models.CharField(
        max_length=32, choices=Fulfilment.choices, default=Fulfilment.MANUAL
    )
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["due_after_minutes", "position", "id"]

    def __str__(self) -> str:
        return self.name


class Checkpoint(models.Model):
    """A checkpoint of one MI: due at declaration + the template's minutes, ticked once."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="checkpoints"
    )
    template = models.ForeignKey(
        CheckpointTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=120)
    phase = models.CharField(max_length=80, blank=True)
    fulfilled_by = models.CharField(
        max_length=32, choices=Fulfilment.choices, default=Fulfilment.MANUAL
    )
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_automatically = models.BooleanField(default=False)
    # Claimed once each by ``warroom.tasks.check_checkpoints`` (a conditional update), so a
    # checkpoint's "due" and "late" events are sent once however often the task runs.
    due_notified_at = models.DateTimeField(null=True, blank=True)
    late_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "template"], name="checkpoint_template_per_mi"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def is_late(self, now: datetime | None = None) -> bool:
        return self.done_at is None and self.due_at < (now or timezone.now())
