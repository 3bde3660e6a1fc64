"""The initial assessment of an MI, due 15 minutes after declaration; every revision is kept."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import MajorIncident

ASSESSMENT_DUE_MINUTES = 15


class Level(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class AssessmentRevision(models.Model):
    """One saved version of the assessment; the MI's current assessment is its latest."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="assessment_revisions"
    )
    revision = models.PositiveIntegerField()
    # Scope
    affected_services = models.TextField(blank=True)
    affected_customers = models.TextField(blank=True)
    # Impact
    revenue_impact_estimate = models.CharField(max_length=200, blank=True)
    sla_breach_risk = models.CharField(max_length=8, choices=Level.choices, blank=True)
    customer_symptoms = models.TextField(blank=True)
    # Root cause
    root_cause_hypothesis = models.TextField(blank=True)
    root_cause_confirmed = models.BooleanField(default=False)
    # Recovery
    eta = models.DateTimeField(null=True, blank=True)
    eta_confidence = models.CharField(max_length=8, choices=Level.choices, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["major_incident", "-revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "revision"], name="assessment_revision_per_mi"
            )
        ]

    def __str__(self) -> str:
        return f"assessment r{self.revision} of {self.major_incident_id}"
