"""The public status page's own records: subscribers, scheduled maintenance, and what the
upstream providers' pages say."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import ConfigurationItem


class StatusSubscriber(models.Model):
    """Someone outside who asked for mail about some components (none: all of them). Double
    opt-in: nothing but the confirmation goes out before ``confirmed_at``; unsubscribing keeps
    the row (``unsubscribed_at``) so that a forged or replayed link changes nothing."""

    email = models.EmailField(max_length=254, unique=True)
    components = models.ManyToManyField(ConfigurationItem, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["confirmed_at", "unsubscribed_at"])]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class MaintenanceStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"


class ScheduledMaintenance(models.Model):
    """Planned work on some components, announced on the status page; its components are
    ``under_maintenance`` while it is in progress or verifying."""

    name = models.CharField(max_length=200)
    components = models.ManyToManyField(ConfigurationItem, related_name="maintenances")
    scheduled_for = models.DateTimeField()
    scheduled_until = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=MaintenanceStatus.choices, default=MaintenanceStatus.SCHEDULED
    )
    notes = models.TextField(blank=True, help_text="Public: shown on the status page")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        verbose_name = "scheduled maintenance"
        verbose_name_plural = "scheduled maintenances"
        indexes = [models.Index(fields=["status", "scheduled_for"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scheduled_until__gt=models.F("scheduled_for")),
                name="maintenance_ends_after_it_starts",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MaintenanceUpdate(models.Model):
    """One public update of a maintenance (its status then, and what was said)."""

    maintenance = models.ForeignKey(
        ScheduledMaintenance, on_delete=models.CASCADE, related_name="updates"
    )
    status = models.CharField(max_length=16, choices=MaintenanceStatus.choices)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.maintenance.name}: {self.status}"


class UpstreamStatus(models.Model):
    """What a SaaS provider's own status page (its ``summary.json``) said when last read, for a
    ``saas_dependency`` CI with an ``upstream_status_url``."""

    ci = models.OneToOneField(
        ConfigurationItem, on_delete=models.CASCADE, related_name="upstream_status"
    )
    indicator = models.CharField(
        max_length=16, blank=True, help_text="none, minor, major, critical"
    )
    description = models.CharField(max_length=500, blank=True)
    components = models.JSONField(default=list, blank=True)
    incidents = models.JSONField(default=list, blank=True)
    page_updated_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    etag = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "upstream status"
        verbose_name_plural = "upstream statuses"

    def __str__(self) -> str:
        return f"{self.ci.name}: {self.indicator or 'unknown'}"
