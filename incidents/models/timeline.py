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
    # Posted by people in the war room (the kinds ``POST …/timeline/`` takes).
    COMMAND_UPDATE = "command_update", "Command update"
    DECISION = "decision", "Decision"
    FINDING = "finding", "Finding"
    # Written by the war room's services as its work changes.
    THREAD_OPENED = "thread_opened", "Thread opened"
    ASSESSMENT = "assessment", "Initial assessment"
    CHECKPOINT = "checkpoint", "Checkpoint"
    ACTION_ITEM = "action_item", "Action item"
    BRIDGE_JOINED = "bridge_joined", "Joined the bridge"
    BRIDGE_LEFT = "bridge_left", "Left the bridge"
    # Written by comms: an update sent (automatic ones say so), and what its delivery did.
    STAKEHOLDER_UPDATE = "stakeholder_update", "Stakeholder update"
    COMMUNICATION = "communication", "Communication"
    # Written by the post-incident review: scheduled, rescheduled, overdue, published.
    REVIEW = "review", "Post-incident review"
    # Reaching in and out (comms): a technician's flag, monitoring alerts, mail in, paging,
    # scheduled maintenance, the upstream provider's status.
    FLAGGED = "flagged", "Flagged as a potential major incident"
    ALERT = "alert", "Monitoring alert"
    EMAIL = "email", "Email"
    PAGED = "paged", "Paged"
    MAINTENANCE = "maintenance", "Scheduled maintenance"
    UPSTREAM_STATUS = "upstream_status", "Upstream provider status"


# What a person may post to an MI's timeline; everything else is written by a service.
POST_KINDS = (
    TimelineKind.NOTE,
    TimelineKind.COMMAND_UPDATE,
    TimelineKind.DECISION,
    TimelineKind.FINDING,
)


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
    # The war room's thread the row belongs to, by its slug ("command", or a subsystem thread's):
    # a label the war room defines, not a foreign key, so that the timeline (here, at the bottom
    # of the apps) never depends on the app above it. The war room's services check it exists.
    thread = models.CharField(max_length=64, blank=True, default="")
    # A correction is a new row pointing at the one it corrects; the corrected row stays.
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )

    objects = TimelineQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "timeline entries"
        indexes = [
            models.Index(fields=["incident", "created_at"], name="timeline_incident_time"),
            # The war room reads and polls a timeline by id (its cursor), newest first.
            models.Index(fields=["incident", "id"], name="timeline_incident_id"),
            models.Index(fields=["major_incident", "id"], name="timeline_mi_id"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Timeline entries are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("Timeline entries are append-only and cannot be deleted.")
