"""System properties and their change history (types and bounds: ``incidents.properties``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .base import BoundedJSONDecoder


class SystemProperty(models.Model):
    """One tunable value; its type, default and bounds live in ``incidents.properties.REGISTRY``."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(decoder=BoundedJSONDecoder)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        verbose_name_plural = "system properties"

    def __str__(self) -> str:
        return self.key


class SystemPropertyChange(models.Model):
    prop = models.ForeignKey(SystemProperty, on_delete=models.CASCADE, related_name="changes")
    old_value = models.JSONField(null=True)
    new_value = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prop.key}: {self.old_value!r} → {self.new_value!r}"
