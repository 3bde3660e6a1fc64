"""Threads of an MI's timeline: the command thread every MI has, and the subsystem threads."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident

# Every MI has a command thread; it is implied, not stored: only its IC and scribe post command
# updates there. Subsystem threads are rows, one per investigation, each with an owner.
COMMAND_THREAD = "command"


class Thread(models.Model):
    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="threads"
    )
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["major_incident", "slug"], name="thread_slug_per_mi"),
            models.CheckConstraint(
                condition=~models.Q(slug=COMMAND_THREAD), name="thread_slug_not_command"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"
