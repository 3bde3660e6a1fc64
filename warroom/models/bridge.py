"""Who is on an MI's bridge call: one row per stay, from joining to leaving."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident


class BridgeAttendance(models.Model):
    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="bridge_attendances"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            # On the bridge once at a time: a second "join" while on it is refused by the database.
            models.UniqueConstraint(
                fields=["major_incident", "user"],
                condition=models.Q(left_at__isnull=True),
                name="bridge_one_stay_at_a_time",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.major_incident_id}"
