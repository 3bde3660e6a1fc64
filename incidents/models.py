"""Incidents, the CMDB, problems, changes, system properties and the timeline.

Rules live in ``services.py``; models hold fields, constraints and small derived values only.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

NUMBER_DIGITS = 7


class NumberedQuerySet(models.QuerySet):
    def by_number(self, number: str) -> models.QuerySet:
        """Rows whose public number (``INC0000042``) is ``number``; none when it is malformed."""
        pk = self.model.pk_from_number(number)
        return self.filter(pk=pk) if pk is not None else self.none()


class NumberedModel(models.Model):
    """A ticket numbered by prefix + primary key: never reused, and no extra write at insert."""

    NUMBER_PREFIX: ClassVar[str] = ""

    objects = NumberedQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        short = getattr(self, "short_description", "")
        return f"{self.number} {short}".strip()

    @property
    def number(self) -> str:
        return f"{self.NUMBER_PREFIX}{self.pk:0{NUMBER_DIGITS}d}" if self.pk else ""

    @classmethod
    def pk_from_number(cls, number: str) -> int | None:
        match = re.fullmatch(
            rf"{cls.NUMBER_PREFIX}(\d{{{NUMBER_DIGITS},18}})", number.strip().upper()
        )
        return int(match.group(1)) if match else None


# --- CMDB -----------------------------------------------------------------------------------------


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


# --- Tickets --------------------------------------------------------------------------------------


class Impact(models.IntegerChoices):
    HIGH = 1, "1 - High"
    MEDIUM = 2, "2 - Medium"
    LOW = 3, "3 - Low"


Urgency = Impact  # the same three levels, named for the field they fill


class Priority(models.IntegerChoices):
    CRITICAL = 1, "P1 - Critical"
    HIGH = 2, "P2 - High"
    MODERATE = 3, "P3 - Moderate"
    LOW = 4, "P4 - Low"
    PLANNING = 5, "P5 - Planning"


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    MONITORING = "monitoring", "Monitoring"
    API = "api", "API"
    CHAT = "chat", "Chat"


class IncidentState(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_INCIDENT_STATES = (IncidentState.NEW, IncidentState.IN_PROGRESS, IncidentState.ON_HOLD)


class ProblemState(models.TextChoices):
    NEW = "new", "New"
    ASSESSED = "assessed", "Assessed"
    ROOT_CAUSE_ANALYSIS = "root_cause_analysis", "Root cause analysis"
    FIX_IN_PROGRESS = "fix_in_progress", "Fix in progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class Problem(NumberedModel):
    NUMBER_PREFIX = "PRB"

    short_description = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(
        max_length=32, choices=ProblemState.choices, default=ProblemState.NEW, db_index=True
    )
    affected_ci = models.ForeignKey(
        ConfigurationItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="problems"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    known_error = models.BooleanField(default=False)
    root_cause = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class ChangeType(models.TextChoices):
    STANDARD = "standard", "Standard"
    NORMAL = "normal", "Normal"
    EMERGENCY = "emergency", "Emergency"


class ChangeState(models.TextChoices):
    NEW = "new", "New"
    ASSESS = "assess", "Assess"
    AUTHORIZE = "authorize", "Authorize"
    SCHEDULED = "scheduled", "Scheduled"
    IMPLEMENT = "implement", "Implement"
    REVIEW = "review", "Review"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class ChangeRisk(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"


class Change(NumberedModel):
    NUMBER_PREFIX = "CHG"

    short_description = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    change_type = models.CharField(
        max_length=16, choices=ChangeType.choices, default=ChangeType.NORMAL, db_index=True
    )
    state = models.CharField(
        max_length=16, choices=ChangeState.choices, default=ChangeState.NEW, db_index=True
    )
    risk = models.CharField(max_length=16, choices=ChangeRisk.choices, default=ChangeRisk.MODERATE)
    affected_ci = models.ForeignKey(
        ConfigurationItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    implementer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(planned_start__isnull=True)
                | models.Q(planned_end__isnull=True)
                | models.Q(planned_end__gte=models.F("planned_start")),
                name="change_planned_window_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(actual_start__isnull=True)
                | models.Q(actual_end__isnull=True)
                | models.Q(actual_end__gte=models.F("actual_start")),
                name="change_actual_window_ordered",
            ),
        ]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for start, end in (("planned_start", "planned_end"), ("actual_start", "actual_end")):
            begins, ends = getattr(self, start), getattr(self, end)
            if begins and ends and ends < begins:
                errors[end] = (
                    f"{end.replace('_', ' ')} must not be before {start.replace('_', ' ')}."
                )
        if errors:
            raise ValidationError(errors)


class Incident(NumberedModel):
    NUMBER_PREFIX = "INC"

    short_description = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents_called",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)
    affected_ci = models.ForeignKey(
        ConfigurationItem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    impact = models.PositiveSmallIntegerField(choices=Impact.choices, default=Impact.LOW)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.LOW)
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.PLANNING, db_index=True
    )
    priority_is_manual = models.BooleanField(
        default=False, help_text="Set by a manager; impact and urgency no longer recompute it."
    )
    state = models.CharField(
        max_length=16, choices=IncidentState.choices, default=IncidentState.NEW, db_index=True
    )
    assignment_group = models.CharField(max_length=100, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents_assigned",
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    affected_users = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Computed from the CMDB: the affected CI and its dependents.",
    )
    is_security = models.BooleanField(default=False)
    resolution_notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    impact_started_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("override_priority", "Can set an incident's priority by hand")]
        indexes = [
            models.Index(fields=["state", "priority"], name="incident_state_priority"),
            # The auto-declaration sweep reads open incidents only; a partial index keeps its
            # cost with the open ones however many closed incidents history piles up.
            # Keyed (priority, id) so the sweep's read is an index-only scan.
            models.Index(
                fields=["priority", "id"],
                condition=models.Q(state__in=["new", "in_progress", "on_hold"]),
                name="incident_open_by_priority",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="incident_not_own_parent"
            ),
        ]

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_INCIDENT_STATES


# --- System properties ----------------------------------------------------------------------------


class SystemProperty(models.Model):
    """One tunable value; its type, default and bounds live in ``incidents.properties.REGISTRY``."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()
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


# --- Timeline -------------------------------------------------------------------------------------


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

    objects = TimelineQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["incident", "created_at"], name="timeline_incident_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Timeline entries are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("Timeline entries are append-only and cannot be deleted.")


# --- Major incidents ------------------------------------------------------------------------------


class MIStatus(models.TextChoices):
    DECLARED = "declared", "Declared"
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_MI_STATUSES = (
    MIStatus.DECLARED,
    MIStatus.INVESTIGATING,
    MIStatus.IDENTIFIED,
    MIStatus.MONITORING,
)

# In the order DESIGN validates them: each must not be earlier than the one before it that is set.
MILESTONES = (
    "impact_started_at",
    "detected_at",
    "declared_at",
    "war_room_opened_at",
    "first_stakeholder_update_at",
    "first_customer_update_at",
    "root_cause_identified_at",
    "mitigated_at",
    "fix_deployed_at",
    "monitoring_started_at",
    "resolved_at",
    "all_clear_at",
    "closed_at",
)
# The chain DESIGN orders: impact start <= detected <= declared <= resolved <= closed.
ORDERED_MILESTONES = ("impact_started_at", "detected_at", "declared_at", "resolved_at", "closed_at")


class RaciRole(models.TextChoices):
    MAJOR_INCIDENT_MANAGER = "major_incident_manager", "Major incident manager (IC)"
    TECHNICAL_LEAD = "technical_lead", "Technical lead"
    COMMUNICATIONS_LEAD = "communications_lead", "Communications lead"
    SUPPORT_LEAD = "support_lead", "Support lead"
    SCRIBE = "scribe", "Scribe"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    PROBLEM_MANAGER = "problem_manager", "Problem manager"
    CHANGE_MANAGER = "change_manager", "Change manager"
    SERVICE_DESK = "service_desk", "Service desk"
    MIT_MEMBER = "mit_member", "MIT member"
    EXTERNAL_CONSULTANT = "external_consultant", "External consultant"


class AutoDeclareAction(models.TextChoices):
    DECLARE = "declare", "Declare"
    PROPOSE = "propose", "Propose (an ITSM manager accepts or rejects)"


class AutoDeclarationRule(models.Model):
    """One rule: every condition that is set must hold. Rules run in ``order``; first match wins.

    A threshold may name a system property instead of a fixed number, read at evaluation time,
    so a manager's change to the property counts at the next evaluation.
    """

    name = models.CharField(max_length=200, unique=True)
    order = models.PositiveIntegerField(default=100, db_index=True)
    enabled = models.BooleanField(default=True)
    action = models.CharField(
        max_length=16, choices=AutoDeclareAction.choices, default=AutoDeclareAction.DECLARE
    )
    max_priority = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=Priority.choices, help_text="Priority this high or higher"
    )
    states = models.JSONField(
        default=list, blank=True, help_text="Incident states it applies to; empty: any open state"
    )
    unacknowledged_minutes = models.PositiveIntegerField(null=True, blank=True)
    unacknowledged_minutes_property = models.CharField(max_length=100, blank=True)
    min_affected_users = models.PositiveIntegerField(
        null=True, blank=True, help_text="Matches when affected users are MORE than this"
    )
    min_affected_users_property = models.CharField(max_length=100, blank=True)
    min_child_incidents = models.PositiveIntegerField(null=True, blank=True)
    max_ci_criticality = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=Criticality.choices,
        help_text="Affected CI this critical or more",
    )
    is_security = models.BooleanField(null=True, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class MajorIncident(NumberedModel):
    NUMBER_PREFIX = "MI"

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="major_incident"
    )  # at most one MI per incident, enforced by the database
    status = models.CharField(
        max_length=16, choices=MIStatus.choices, default=MIStatus.DECLARED, db_index=True
    )
    summary = models.TextField(blank=True)
    impact_statement = models.TextField()
    bridge_link = models.URLField(max_length=500, blank=True)
    is_security = models.BooleanField(default=False)
    media_attention = models.BooleanField(default=False)
    trigger_rule = models.ForeignKey(
        AutoDeclarationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger_reason = models.TextField(blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.SET_NULL, related_name="major_incidents"
    )
    next_update_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cancel_reason = models.TextField(blank=True)
    pir_published_at = models.DateTimeField(
        null=True, blank=True, help_text="Set by the post-incident review when it is published"
    )
    impact_started_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    declared_at = models.DateTimeField(default=timezone.now)
    war_room_opened_at = models.DateTimeField(null=True, blank=True)
    first_stakeholder_update_at = models.DateTimeField(null=True, blank=True)
    first_customer_update_at = models.DateTimeField(null=True, blank=True)
    root_cause_identified_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    fix_deployed_at = models.DateTimeField(null=True, blank=True)
    monitoring_started_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    all_clear_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("declare_majorincident", "Can declare, cancel or downgrade a major incident"),
            ("manage_majorincident", "Can run a major incident: roles, lifecycle, milestones"),
            ("post_timeline_majorincident", "Can post to a major incident's timeline"),
            ("edit_scratchpad_majorincident", "Can edit a major incident's scratchpad"),
            ("send_updates_majorincident", "Can send a major incident's stakeholder updates"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_MI_STATUSES


class RoleAssignment(models.Model):
    """Who holds which RACI role on an MI, and since when; a removed holder keeps the row."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(max_length=32, choices=RaciRole.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["assigned_at", "id"]
        constraints = [
            # Exactly one commander: the database refuses a second active IC even under a race.
            models.UniqueConstraint(
                fields=["major_incident"],
                condition=models.Q(role="major_incident_manager", removed_at__isnull=True),
                name="one_active_ic_per_mi",
            ),
            models.UniqueConstraint(
                fields=["major_incident", "role", "user"],
                condition=models.Q(removed_at__isnull=True),
                name="uniq_active_role_holder",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.user}"


class RoleRoster(models.Model):
    """The on-call holder of each role, assigned to every new MI where no one is given."""

    role = models.CharField(max_length=32, choices=RaciRole.choices, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["role"]
        verbose_name = "on-call roster entry"
        verbose_name_plural = "on-call roster"

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.user}"


class RaciActivity(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "code"]
        verbose_name_plural = "RACI activities"

    def __str__(self) -> str:
        return self.name


class Raci(models.TextChoices):
    RESPONSIBLE = "R", "Responsible"
    ACCOUNTABLE = "A", "Accountable"
    CONSULTED = "C", "Consulted"
    INFORMED = "I", "Informed"


class RaciEntry(models.Model):
    activity = models.ForeignKey(RaciActivity, on_delete=models.CASCADE, related_name="entries")
    role = models.CharField(max_length=32, choices=RaciRole.choices)
    letter = models.CharField(max_length=1, choices=Raci.choices)

    class Meta:
        ordering = ["activity", "role"]
        verbose_name_plural = "RACI entries"
        constraints = [
            models.UniqueConstraint(fields=["activity", "role"], name="uniq_raci_activity_role")
        ]

    def __str__(self) -> str:
        return f"{self.activity.code}/{self.role}: {self.letter}"


class CandidateStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class MajorIncidentCandidate(models.Model):
    """An incident a rule in propose mode put forward; one per incident, never proposed twice."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="mi_candidate")
    rule = models.ForeignKey(
        AutoDeclarationRule, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    status = models.CharField(
        max_length=16,
        choices=CandidateStatus.choices,
        default=CandidateStatus.PENDING,
        db_index=True,
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    major_incident = models.ForeignKey(
        MajorIncident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "major incident candidate"

    def __str__(self) -> str:
        return f"{self.incident.number} ({self.status})"


class EscalationTrigger(models.TextChoices):
    OPEN_TOO_LONG = "open_too_long", "Open longer than escalation_resolution_hours"
    TICKET_VOLUME = "ticket_volume", "Linked-ticket volume over factor × normal"
    MEDIA_ATTENTION = "media_attention", "Media attention flag set"
    SECURITY = "security", "Security major incident"


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=200, unique=True)
    trigger = models.CharField(max_length=32, choices=EscalationTrigger.choices, unique=True)
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    """Who is told, and how long after the policy's trigger: a RACI role, a group, or a title."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(default=1)
    delay_minutes = models.PositiveIntegerField(default=0)
    target_label = models.CharField(max_length=200, help_text="e.g. Engineering VP, CTO")
    target_role = models.CharField(max_length=32, choices=RaciRole.choices, blank=True)
    target_group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["policy", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "order"], name="uniq_escalation_step_order")
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} #{self.order}: {self.target_label}"


class EscalationFiring(models.Model):
    """A step that fired for an MI. The unique pair is what makes each step fire once."""

    major_incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="escalations"
    )
    step = models.ForeignKey(EscalationStep, on_delete=models.CASCADE, related_name="+")
    triggered_at = models.DateTimeField(help_text="When the policy's condition started to hold")
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["fired_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_incident", "step"], name="uniq_escalation_firing"
            )
        ]

    def __str__(self) -> str:
        return f"{self.major_incident.number}: {self.step}"


class MajorIncidentUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key object permissions (guardian's fast path), granted with roles."""

    content_object = models.ForeignKey(MajorIncident, on_delete=models.CASCADE)


class MajorIncidentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(MajorIncident, on_delete=models.CASCADE)
