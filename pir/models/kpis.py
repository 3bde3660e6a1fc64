"""The monthly KPI report: one row per month, claimed before it is sent, so two beat processes
(or a retried task) send it once. Its model permission is also what opens the KPI dashboard."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class KpiReport(models.Model):
    month = models.DateField(unique=True, help_text="The first day of the month reported")
    data = models.JSONField(default=dict, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month"]
        verbose_name = "KPI report"

    def __str__(self) -> str:
        return f"KPIs of {self.month:%B %Y}"
