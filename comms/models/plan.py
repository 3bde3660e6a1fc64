"""Who hears what: stakeholder groups, the communication plan and the message templates."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from incidents.models import ConfigurationItem, RaciActivity


class UpdateType(models.TextChoices):
    """What a message is about; the plan and the templates are keyed by it."""

    INITIAL = "initial", "Initial notification"
    CADENCE = "cadence", "30-minute update"
    EXECUTIVE = "executive", "Executive sponsor update"
    STATUS_PAGE = "status_page", "Status page update"
    RESOLUTION = "resolution", "Resolution notification"
    ALL_CLEAR = "all_clear", "All clear"
    PIR_SUMMARY = "pir_summary", "PIR summary"
    ESCALATION = "escalation", "Escalation notice"
    REMINDER = "reminder", "Reminder to the communications lead"
    WAR_ROOM = "war_room", "War-room post (chat channels)"
    CANNED_RESPONSE = "canned_response", "Canned response for the support team"


# The types a person may draft (POST …/drafts/ {"type": …}); the others are written by the system.
DRAFT_TYPES = (
    UpdateType.INITIAL,
    UpdateType.CADENCE,
    UpdateType.STATUS_PAGE,
    UpdateType.RESOLUTION,
    UpdateType.PIR_SUMMARY,
)


class Trigger(models.TextChoices):
    MI_DECLARED = "mi_declared", "MI declared"
    CADENCE = "cadence", "Every update cadence while open"
    EXECUTIVE_CADENCE = "executive_cadence", "Every executive cadence while open"
    STATE_CHANGED = "state_changed", "Every state change"
    MI_RESOLVED = "mi_resolved", "MI resolved"
    ALL_CLEAR = "all_clear", "Recovery monitoring over"
    PIR_PUBLISHED = "pir_published", "PIR published"
    ESCALATION = "escalation", "Escalation step fired"
    WAR_ROOM_POST = "war_room_post", "Command update, decision or role change"


class SecurityScope(models.TextChoices):
    ANY = "any", "Every MI"
    SECURITY_ONLY = "security_only", "Security MIs only"
    NEVER_SECURITY = "never_security", "Never for a security MI"


class ChannelName(models.TextChoices):
    """The outbound channels (``comms/channels/``, one module each)."""

    EMAIL = "email", "Email"
    SNS = "sns", "Amazon SNS"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    WEBHOOK = "webhook", "Signed webhook"
    STATUSPAGE = "statuspage", "Atlassian Statuspage"
    PAGERDUTY = "pagerduty", "PagerDuty"
    OPSGENIE = "opsgenie", "Opsgenie"
    JIRA = "jira", "Jira (issues for PIR action items)"


class StakeholderGroup(models.Model):
    """People who hear of major incidents, and where: users (by their email), external addresses,
    a Slack channel, an SNS topic, a Teams webhook, a signed webhook.

    A group with ``services`` is a department: it hears of an MI only when the MI's outage reaches
    one of them (the plan's "affected department heads").
    """

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    external_emails = models.JSONField(
        default=list, blank=True, help_text="Addresses outside MIM Desk (a list of strings)"
    )
    slack_channel = models.CharField(
        max_length=80, blank=True, help_text="Slack channel id or name, e.g. #it-leadership"
    )
    sns_topic_arn = models.CharField(max_length=256, blank=True)
    teams_webhook_url = models.URLField(max_length=1000, blank=True)
    webhook_url = models.URLField(max_length=1000, blank=True)
    django_groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="+",
        help_text="Every member of these MIM Desk roles belongs to the group too",
    )
    services = models.ManyToManyField(
        ConfigurationItem,
        blank=True,
        related_name="stakeholder_groups",
        help_text="Business services this department depends on (empty: hears of every MI)",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CommunicationPlanEntry(models.Model):
    """One row of the communication plan: on ``trigger``, tell ``audiences`` through ``channels``
    with the ``update_type``'s templates. The holders of the C and I letters of ``raci_activity``
    on the MI hear it too (by email)."""

    name = models.CharField(max_length=200)
    order = models.PositiveSmallIntegerField(default=0)
    update_type = models.CharField(max_length=32, choices=UpdateType.choices)
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    audiences = models.ManyToManyField(StakeholderGroup, blank=True, related_name="plan_entries")
    affected_departments = models.BooleanField(
        default=False, help_text="Also every department group whose services the MI reaches"
    )
    roles = models.JSONField(
        default=list, blank=True, help_text="RACI roles on the MI whose holders hear it too"
    )
    include_previous_recipients = models.BooleanField(
        default=False, help_text="Also everyone who received an earlier update of the MI"
    )
    raci_activity = models.ForeignKey(
        RaciActivity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channels = models.JSONField(default=list, help_text='Channel names, e.g. ["email", "slack"]')
    status_page = models.BooleanField(
        default=False, help_text="The update is public: shown on the status page"
    )
    security_scope = models.CharField(
        max_length=16, choices=SecurityScope.choices, default=SecurityScope.ANY
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "communication plan entry"
        verbose_name_plural = "communication plan"

    def __str__(self) -> str:
        return self.name


class MessageTemplate(models.Model):
    """The words of one update type on one channel ("" = every channel without its own).

    Each part is a Django template rendered as plain text with the MI's context (``mi``,
    ``incident``, ``service``, ``status``, ``affected_users``, ``next_update_at``, …); the channel
    formats the parts for its medium. ``pre_approved``: the text may go out without a person
    (the automatic cadence update, event notifications).
    """

    update_type = models.CharField(max_length=32, choices=UpdateType.choices)
    channel = models.CharField(max_length=16, choices=ChannelName.choices, blank=True)
    subject = models.CharField(max_length=300)
    current_impact = models.TextField()
    current_action = models.TextField()
    user_action = models.TextField()
    body = models.TextField(blank=True)
    security_safe = models.BooleanField(
        default=False,
        help_text="Carries no technical detail: the only kind a security MI uses until its "
        "investigation is complete",
    )
    pre_approved = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["update_type", "channel", "security_safe"]
        constraints = [
            models.UniqueConstraint(
                fields=["update_type", "channel", "security_safe"], name="uniq_message_template"
            )
        ]

    def __str__(self) -> str:
        where = self.channel or "any channel"
        security = ", security" if self.security_safe else ""
        return f"{self.get_update_type_display()} ({where}{security})"
