"""The CMDB: configuration items and the dependency edges between them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class CIKind(models.TextChoices):
    BUSINESS_SERVICE = "business_service", "Business service"
    APPLICATION = "application", "Application"
    DATABASE = "database", "Database"
    SERVER = "server", "Server"
    NETWORK = "network", "Network"
    SAAS_DEPENDENCY = "saas_dependency", "SaaS dependency"


class Criticality(models.IntegerChoices):
    CRITICAL = 1, "1 - Critical"
    HIGH = 2, "2 - High"
    MEDIUM = 3, "3 - Medium"
    LOW = 4, "4 - Low"


class ConfigurationItem(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=CIKind.choices, db_index=True)
    user_count = models.PositiveIntegerField(
        default=0, help_text="Users who rely on this CI directly."
    )
    owner_group = models.CharField(max_length=100, blank=True)
    criticality = models.PositiveSmallIntegerField(
        choices=Criticality.choices, default=Criticality.MEDIUM
    )
    description = models.TextField(blank=True)
    upstream_status_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="saas_dependency: the provider's Statuspage-style page (its /api/v2/summary.json "
        "is read while a major incident on this CI is open)",
    )
    provider_role = models.CharField(
        max_length=100,
        blank=True,
        help_text="saas_dependency: what stakeholder updates call this provider, e.g. "
        "'payment processing partner'",
    )
    depends_on: models.ManyToManyField = models.ManyToManyField(
        "self",
        through="CIDependency",
        through_fields=("consumer", "provider"),
        symmetrical=False,
        related_name="dependents",
        blank=True,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "configuration item"

    def __str__(self) -> str:
        return self.name


class CIDependency(models.Model):
    """``consumer`` depends on ``provider``: an outage of the provider reaches the consumer."""

    consumer = models.ForeignKey(
        ConfigurationItem, on_delete=models.CASCADE, related_name="provider_links"
    )
    provider = models.ForeignKey(
        ConfigurationItem, on_delete=models.CASCADE, related_name="consumer_links"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "CI dependency"
        verbose_name_plural = "CI dependencies"
        constraints = [
            models.UniqueConstraint(fields=["consumer", "provider"], name="uniq_ci_dependency"),
            models.CheckConstraint(
                condition=~models.Q(consumer=models.F("provider")), name="ci_dependency_not_self"
            ),
        ]
        indexes = [
            # The impact CTE walks provider -> consumer; covering both columns lets PostgreSQL
            # answer each step from the index alone.
            models.Index(fields=["provider", "consumer"], name="ci_dep_provider_consumer"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} → {self.provider}"


class PendingImpactRefresh(models.Model):
    """A CMDB change whose effect on the affected users of open incidents is not applied yet.

    Written in the transaction of the change itself, so the change and the record of the work it
    owes commit together; the refresh that applies it deletes the row in its own transaction. A
    lost message (a worker killed while it held it, a broker that lost it) leaves the row behind,
    and the every-minute ``incidents.tasks.reconcile`` applies it (DESIGN, "Periodic tasks").

    One row per change, not one per CI: a refresh deletes exactly the rows it claimed, so a change
    committed while it ran keeps its own row. ``ci_id`` is not a foreign key on purpose: a row
    must outlive the CI it names (a deleted CI is a change too), and taking it must not lock CIs.
    """

    ci_id = models.BigIntegerField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "pending impact refresh"

    def __str__(self) -> str:
        return f"CI {self.ci_id} changed at {self.created_at:%Y-%m-%d %H:%M:%S}"
