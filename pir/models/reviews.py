"""The post-incident review of a major incident: the blameless document (the Google SRE
postmortem's sections and the service desk's impact fields), its meeting, comments and action
items."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from comms.models import OutboxMessage
from incidents.models import Change, MajorIncident, Priority, ProblemTask
from warroom.models import ActionItem


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


class Distribution(models.TextChoices):
    INTERNAL = "internal", "Internal only"
    EXTERNAL = "external", "Internal and external (customers)"


# The document's free-text sections, in the order the document shows them: (field, heading).
# The API's PATCH, the editor page and the Markdown export all walk this list.
DOCUMENT_SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("impact", "Impact"),
    ("root_causes", "Root causes"),
    ("trigger", "Trigger"),
    ("resolution", "Resolution"),
    ("detection", "Detection"),
    ("contributing_factors", "Contributing factors"),
    ("detection_delay", "Why detection was delayed"),
    ("escalation_delay", "Why escalation was delayed"),
    ("lessons_went_well", "What went well"),
    ("lessons_went_wrong", "What went wrong"),
    ("lessons_got_lucky", "Where we got lucky"),
    ("prevention_prevent", "Prevent"),
    ("prevention_detect_faster", "Detect faster"),
    ("prevention_respond_better", "Respond better"),
    ("communication_most_asked", "What users asked most"),
    ("communication_cadence", "How updates kept their cadence"),
    ("reputation", "Reputation"),
    ("sla_breaches", "SLA breaches"),
    ("supporting_information", "Supporting information"),
)


class PostIncidentReview(models.Model):
    """One per MI, created when it is resolved (``pir.services.scheduling``).

    ``version`` rises on every save of the document: a PATCH naming an older version is a 409,
    so two people editing at once do not overwrite each other unseen (as the scratchpad does).
    ``timeline`` is empty until publishing freezes the war-room log into it; before that the
    timeline is read live from the MI's log (``pir.selectors``).
    """

    major_incident = models.OneToOneField(
        MajorIncident, on_delete=models.CASCADE, related_name="pir"
    )
    status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT, db_index=True
    )
    version = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=300, blank=True)
    authors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    # The meeting (iCalendar: a stable UID from the review's id, SEQUENCE = meeting_sequence).
    meeting_at = models.DateTimeField(null=True, blank=True, db_index=True)
    meeting_minutes = models.PositiveSmallIntegerField(default=60)
    meeting_location = models.CharField(max_length=500, blank=True)
    meeting_sequence = models.PositiveIntegerField(default=0)
    meeting_cancelled_at = models.DateTimeField(null=True, blank=True)
    # The meeting time each reminder was sent for: a reschedule makes both due again.
    reminded_24h_for = models.DateTimeField(null=True, blank=True)
    reminded_1h_for = models.DateTimeField(null=True, blank=True)
    # Publish deadline (resolved + ``pir_publish_deadline_days``) and when it was found missed.
    publish_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)

    # The SRE sections and the service desk's fields (``DOCUMENT_SECTIONS``).
    summary = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    root_causes = models.TextField(blank=True)
    trigger = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    detection = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    detection_delay = models.TextField(blank=True)
    escalation_delay = models.TextField(blank=True)
    lessons_went_well = models.TextField(blank=True)
    lessons_went_wrong = models.TextField(blank=True)
    lessons_got_lucky = models.TextField(blank=True)
    prevention_prevent = models.TextField(blank=True)
    prevention_detect_faster = models.TextField(blank=True)
    prevention_respond_better = models.TextField(blank=True)
    communication_most_asked = models.TextField(blank=True)
    communication_cadence = models.TextField(blank=True)
    reputation = models.TextField(blank=True)
    sla_breaches = models.TextField(blank=True)
    supporting_information = models.TextField(blank=True)
    # Impact in figures.
    customers_affected = models.PositiveIntegerField(null=True, blank=True)
    customers_affected_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )
    revenue_impact = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    revenue_currency = models.CharField(max_length=3, default="USD")
    sla_credits = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    support_tickets = models.PositiveIntegerField(null=True, blank=True)
    support_tickets_increase_percent = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True
    )
    distribution = models.CharField(
        max_length=16, choices=Distribution.choices, default=Distribution.INTERNAL
    )
    # The public version for the status page (a P1's, when the IC chooses to post it).
    public_summary = models.TextField(blank=True)
    post_publicly = models.BooleanField(default=False)

    timeline = models.JSONField(default=list, blank=True)
    drafted_by = models.CharField(
        max_length=100, blank=True, help_text="Who wrote the first draft: a template or a model"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = "post-incident review"
        indexes = [
            # schedule_due_reviews: the unpublished reviews, by meeting time and deadline.
            models.Index(
                fields=["meeting_at"],
                condition=~models.Q(status="published"),
                name="pir_unpublished_meeting",
            ),
        ]

    def __str__(self) -> str:
        return f"PIR of {self.major_incident.number} ({self.status})"

    @property
    def ical_uid(self) -> str:
        """The meeting's UID: the same in every invitation, update and cancellation."""
        return f"pir-{self.pk}-{self.major_incident_id}@mimdesk"


class ReviewComment(models.Model):
    review = models.ForeignKey(
        PostIncidentReview, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    section = models.CharField(max_length=64, blank=True, help_text="The section it is about")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on the review {self.review_id}"


class ReviewActionType(models.TextChoices):
    """The SRE postmortem's action item types."""

    PREVENT = "prevent", "Prevent"
    MITIGATE = "mitigate", "Mitigate"
    DETECT = "detect", "Detect"
    REPAIR = "repair", "Repair"
    PROCESS = "process", "Process"
    INVESTIGATE = "investigate", "Investigate"


ACTION_ITEM_TYPES = tuple(ReviewActionType.values)


class ReviewActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


OPEN_REVIEW_ACTION_STATUSES = (ReviewActionStatus.OPEN, ReviewActionStatus.IN_PROGRESS)


class ReviewActionItem(models.Model):
    """Follow-up work the review agrees on. Publishing needs an owner, a due date and a priority
    on each. It may become a problem task or a change (linked both ways: this row points at it,
    and it names this item as its source), or a Jira issue (``tracker_*``; the outbox row that
    creates it is ``tracker_message``)."""

    review = models.ForeignKey(
        PostIncidentReview, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(
        max_length=16, choices=ReviewActionType.choices, default=ReviewActionType.PREVENT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ReviewActionStatus.choices, default=ReviewActionStatus.OPEN
    )
    war_room_item = models.ForeignKey(
        ActionItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    problem_task = models.OneToOneField(
        ProblemTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="pir_item"
    )
    change = models.OneToOneField(
        Change, null=True, blank=True, on_delete=models.SET_NULL, related_name="pir_item"
    )
    tracker_message = models.ForeignKey(
        OutboxMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tracker_key = models.CharField(max_length=64, blank=True)
    tracker_url = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # KPIs: overdue action items (open, past due).
            models.Index(fields=["status", "due_date"], name="pir_action_status_due"),
        ]

    def __str__(self) -> str:
        return self.title
