"""Major incidents: the MI, RACI roles and roster, proposals, rules and escalation paths."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from .base import BoundedJSONDecoder, NumberedModel
from .cmdb import Criticality
from .tickets import Incident, Priority, Problem


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
        default=list,
        blank=True,
        decoder=BoundedJSONDecoder,
        help_text="Incident states it applies to; empty: any open state",
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
    during_maintenance = models.BooleanField(
        default=False,
        help_text="Also fires for incidents logged on a component under scheduled maintenance "
        "(off: an outage during planned work is expected, not declared)",
    )
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
    bridge_dial_in = models.CharField(
        max_length=200, blank=True, help_text="Phone number and access code of the bridge"
    )
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
    """An incident put forward as a major incident, by a rule in propose mode or flagged by a
    technician (``flagged_by``); one per incident, never proposed twice."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="mi_candidate")
    rule = models.ForeignKey(
        AutoDeclarationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The technician who flagged it (no rule)",
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
