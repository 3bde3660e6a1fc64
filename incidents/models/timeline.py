"""The append-only timeline of an incident and its major incident."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from .tickets import Incident


class TimelineKind(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    STATE_CHANGED = "state_changed", "State changed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    IMPACT_CHANGED = "impact_changed", "Affected users changed"
    LINKED = "linked", "Linked"
    RESOLVED = "resolved", "Resolved"
    NOTE = "note", "Note"
    DECLARED = "declared", "Major incident declared"
    MI_STATUS_CHANGED = "mi_status_changed", "Major incident status changed"
    ROLE_ASSIGNED = "role_assigned", "Role assigned"
    ROLE_REMOVED = "role_removed", "Role removed"
    MILESTONE = "milestone", "Milestone recorded"
    ESCALATED = "escalated", "Escalated"
    PROPOSED = "proposed", "Proposed as a major incident"
    PROPOSAL_REJECTED = "proposal_rejected", "Proposal rejected"


class AppendOnlyError(Exception):
    pass


class TimelineQuerySet(models.QuerySet):
    """Bulk ``update()``/``delete()`` would bypass the row-level guards below; refuse them too."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("Timeline entries are append-only and cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Timeline entries are append-only and cannot be deleted.")


class TimelineEntry(models.Model):
    """The append-only event log of an incident: rows are written once and never changed."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    major_incident = models.ForeignKey(
        "MajorIncident", null=True, blank=True, on_delete=models.PROTECT, related_name="timeline"
    )
    kind = models.CharField(max_length=32, choices=TimelineKind.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = TimelineQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["incident", "created_at"], name="timeline_incident_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Timeline entries are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("Timeline entries are append-only and cannot be deleted.")
