"""The MI's shared scratchpad: one current text with a version, and every saved version."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident


class Scratchpad(models.Model):
    major_incident = models.OneToOneField(
        MajorIncident, on_delete=models.CASCADE, related_name="scratchpad"
    )
    text = models.TextField(blank=True)
    # Raised by one on every save; a save names the version it edited (optimistic locking).
    version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"scratchpad of {self.major_incident_id} v{self.version}"


class ScratchpadVersion(models.Model):
    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="scratchpad_versions"
    )
    version = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["major_incident", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "version"], name="scratchpad_version_per_mi"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version}"
