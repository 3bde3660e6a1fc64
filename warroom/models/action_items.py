"""Action items of an MI's war room: who does what by when."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


OPEN_ACTION_STATUSES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


class ActionItem(models.Model):
    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    # The thread it belongs to, by slug ("" for none), like the timeline's rows.
    thread = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.title
