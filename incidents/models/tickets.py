"""Incidents, problems and changes, and the choices they are made of."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .base import NumberedModel
from .cmdb import ConfigurationItem


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


class ProblemTaskState(models.TextChoices):
    OPEN = "open", "Open"
    WORK_IN_PROGRESS = "work_in_progress", "Work in progress"
    CLOSED_COMPLETE = "closed_complete", "Closed complete"
    CLOSED_SKIPPED = "closed_skipped", "Closed skipped"


class ProblemTask(NumberedModel):
    """A piece of work under a problem (ServiceNow's ``problem_task``): a PIR's action item
    turned into work, or one a problem manager adds by hand.

    ``source_label``/``source_url`` name what it came from (``MI0000042 PIR action 3`` and the
    review's page): a link back without this app knowing the app that made it.
    """

    NUMBER_PREFIX = "PTASK"

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="tasks")
    short_description = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(
        max_length=32,
        choices=ProblemTaskState.choices,
        default=ProblemTaskState.OPEN,
        db_index=True,
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MODERATE)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    source_label = models.CharField(max_length=200, blank=True)
    source_url = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

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
    # What asked for the change (a PIR's action item), as ProblemTask keeps it.
    source_label = models.CharField(max_length=200, blank=True)
    source_url = models.CharField(max_length=500, blank=True)
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
    under_maintenance = models.BooleanField(
        default=False,
        help_text="Logged on a component under scheduled maintenance (set by comms; the "
        "auto-declaration rules skip it unless a rule says otherwise)",
    )
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
            # Per-CI counts over a time window (the escalation sweep's normal rate over four
            # weeks, the linked tickets since a declaration) read a range of this index instead
            # of intersecting every incident of the CI with every incident of the window.
            models.Index(fields=["affected_ci", "created_at"], name="incident_ci_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="incident_not_own_parent"
            ),
        ]

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_INCIDENT_STATES
