"""Stakeholder updates: the four parts, written by a person or from the pre-approved template."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident

from .plan import UpdateType


class UpdateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    SENT = "sent", "Sent"
    DISCARDED = "discarded", "Discarded"


class StakeholderUpdate(models.Model):
    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="stakeholder_updates"
    )
    update_type = models.CharField(max_length=32, choices=UpdateType.choices)
    subject = models.CharField(max_length=300, blank=True)
    current_impact = models.TextField()
    current_action = models.TextField()
    user_action = models.TextField()
    next_update_at = models.DateTimeField(null=True, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=UpdateStatus.choices, default=UpdateStatus.DRAFT, db_index=True
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    automatic = models.BooleanField(
        default=False, help_text="Sent by the system from the pre-approved template"
    )
    is_public = models.BooleanField(default=False, help_text="Shown on the public status page")
    drafted_by = models.CharField(
        max_length=32, blank=True, help_text="The drafter that proposed the text, if any"
    )
    # The cadence slot an automatic or scheduled update fills ("cadence:2025-03-03T09:30"): the
    # unique pair below is what makes two schedulers at once send one update per slot.
    slot = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "slot"],
                condition=models.Q(slot__isnull=False),
                name="uniq_update_slot_per_mi",
            )
        ]
        indexes = [models.Index(fields=["major_incident", "status", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.major_incident.number} {self.get_update_type_display()} ({self.status})"
