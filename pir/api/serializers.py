"""Bodies of the review's API: the document (out), its edit (in, documented here and checked by
``pir.services.reviews``, which names the field at fault), comments, action items and drafts.

The edit bodies go to the services as the client sent them: the services' cleaning is the one
set of rules (wrong types, sizes, unknown fields), shared with the editor page and the admin;
the serializers below say what they take for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from comms.services.drafting import DRAFTERS
from incidents.api.serializers import InputSerializer
from incidents.models import Priority
from warroom.api.common import TextField, username_out

from ..models import (
    DOCUMENT_SECTIONS,
    Distribution,
    PostIncidentReview,
    ReviewActionItem,
    ReviewActionStatus,
    ReviewActionType,
    ReviewComment,
)
from ..services.reviews import FIGURES, MAX_COMMENT_CHARS, MAX_SECTION_CHARS, MAX_TITLE_CHARS

SECTION_NAMES = [name for name, _ in DOCUMENT_SECTIONS]
KIND_HELP = "One of " + ", ".join(ReviewActionType.values)
PRIORITY_HELP = "; ".join(f"{value}: {label}" for value, label in Priority.choices)


class TimelineRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # the row's key, not Field.label
    text = serializers.CharField()
    milestone = serializers.BooleanField()
    url = serializers.CharField(help_text="The entry in the war room")
    actor = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "ReviewTimelineRow"


class BlockerSerializer(serializers.Serializer):
    field = serializers.CharField()
    detail = serializers.CharField()

    class Meta:
        ref_name = "ReviewPublishBlocker"


class ActionItemSerializer(serializers.ModelSerializer):
    owner = username_out()
    created_by = username_out()
    problem_task: Any = serializers.SlugRelatedField(
        slug_field="number", read_only=True, allow_null=True
    )
    change: Any = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    # Plain strings and numbers in the schema, their values in the help text: the enum names
    # "kind" and "priority" are taken by other choice sets in the API's schema.
    kind = serializers.CharField(read_only=True, help_text=KIND_HELP)
    priority = serializers.IntegerField(read_only=True, allow_null=True, help_text=PRIORITY_HELP)
    status = serializers.ChoiceField(choices=ReviewActionStatus.choices, read_only=True)

    class Meta:
        model = ReviewActionItem
        ref_name = "ReviewActionItem"
        fields = [
            "id", "title", "description", "kind", "owner", "due_date", "priority", "status",
            "problem_task", "change", "tracker_key", "tracker_url", "created_by", "created_at",
            "updated_at", "done_at",
        ]  # fmt: skip
        read_only_fields = fields


class ActionItemInputSerializer(InputSerializer):
    """For the schema: ``POST`` needs ``title``; ``PATCH`` takes any of these."""

    title = TextField(max_length=200, required=False)
    description = TextField(max_length=10_000, required=False, allow_blank=True)
    kind = TextField(required=False, help_text=KIND_HELP)
    owner = TextField(required=False, allow_null=True, help_text="A username")
    due_date = serializers.DateField(required=False, allow_null=True)
    priority = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=5, help_text=PRIORITY_HELP
    )
    status = serializers.ChoiceField(choices=ReviewActionStatus.choices, required=False)

    class Meta:
        ref_name = "ReviewActionItemInput"


class CommentSerializer(serializers.ModelSerializer):
    author = username_out()

    class Meta:
        model = ReviewComment
        ref_name = "ReviewComment"
        fields = ["id", "author", "section", "body", "created_at"]
        read_only_fields = fields


class CommentInputSerializer(InputSerializer):
    body = TextField(max_length=MAX_COMMENT_CHARS)
    section = serializers.ChoiceField(
        choices=SECTION_NAMES, required=False, allow_blank=True, help_text="The section it is about"
    )

    class Meta:
        ref_name = "ReviewCommentInput"


def _review_fields() -> dict[str, serializers.Field]:
    fields: dict[str, serializers.Field] = {
        "title": TextField(max_length=MAX_TITLE_CHARS, required=False),
        "version": serializers.IntegerField(
            required=False, help_text="The version edited from; a stale one is a 409"
        ),
        "revenue_currency": TextField(max_length=3, required=False),
        "distribution": serializers.ChoiceField(choices=Distribution.choices, required=False),
        "authors": serializers.ListField(child=TextField(), required=False, max_length=50),
        "public_summary": TextField(max_length=MAX_SECTION_CHARS, required=False, allow_blank=True),
        "post_publicly": serializers.BooleanField(
            required=False, help_text="A P1 only; the incident commander or a manager chooses"
        ),
    }
    for name in SECTION_NAMES:
        fields[name] = TextField(max_length=MAX_SECTION_CHARS, required=False, allow_blank=True)
    for name, (kind, _, _) in FIGURES.items():
        fields[name] = (
            serializers.IntegerField(required=False, allow_null=True)
            if kind == "int"
            else serializers.DecimalField(
                max_digits=14, decimal_places=2, required=False, allow_null=True
            )
        )
    return fields


ReviewChangeSerializer = type(
    "ReviewChangeSerializer",
    (InputSerializer,),
    {**_review_fields(), "Meta": type("Meta", (), {"ref_name": "ReviewChange"})},
)


class LinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    export = serializers.CharField()
    comments = serializers.CharField()
    action_items = serializers.CharField()
    draft = serializers.CharField()
    war_room = serializers.CharField()
    page = serializers.CharField(help_text="The editor page")

    class Meta:
        ref_name = "ReviewLinks"


class MeetingSummarySerializer(serializers.Serializer):
    """The meeting as the document shows it; ``…/pir/meeting/`` has the whole of it."""

    at = serializers.DateTimeField(allow_null=True, source="meeting_at")
    minutes = serializers.IntegerField(source="meeting_minutes")
    location = serializers.CharField(source="meeting_location")
    sequence = serializers.IntegerField(source="meeting_sequence")
    cancelled_at = serializers.DateTimeField(allow_null=True, source="meeting_cancelled_at")

    class Meta:
        ref_name = "ReviewMeetingSummary"


class ReviewSerializer(serializers.ModelSerializer):
    """The document. The view gives it, in ``context``: ``items`` (the action items),
    ``comments_count``, ``blockers`` and ``timeline``."""

    major_incident = serializers.CharField(source="major_incident.number", read_only=True)
    authors = serializers.SerializerMethodField()
    published_by = username_out()
    meeting = serializers.SerializerMethodField()
    action_items = serializers.SerializerMethodField()
    comments_count = serializers.SerializerMethodField()
    publish_blockers = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = PostIncidentReview
        ref_name = "PostIncidentReview"
        fields = [
            "major_incident", "status", "version", "title", "authors",
            *SECTION_NAMES, *FIGURES, "revenue_currency", "distribution", "public_summary",
            "post_publicly", "drafted_by", "meeting", "publish_due_at", "overdue_flagged_at",
            "created_at", "updated_at", "submitted_at", "published_at", "published_by",
            "action_items", "comments_count", "publish_blockers", "timeline", "links",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_authors(self, review: PostIncidentReview) -> list[str]:
        return [user.get_username() for user in review.authors.all()]

    @extend_schema_field(MeetingSummarySerializer)
    def get_meeting(self, review: PostIncidentReview) -> dict[str, Any]:
        return dict(MeetingSummarySerializer(review).data)

    @extend_schema_field(ActionItemSerializer(many=True))
    def get_action_items(self, review: PostIncidentReview) -> list[Any]:
        return list(ActionItemSerializer(self.context["items"], many=True).data)

    @extend_schema_field(serializers.IntegerField())
    def get_comments_count(self, review: PostIncidentReview) -> int:
        return int(self.context["comments_count"])

    @extend_schema_field(BlockerSerializer(many=True))
    def get_publish_blockers(self, review: PostIncidentReview) -> list[dict[str, str]]:
        return [{"field": f, "detail": d} for f, d in self.context["blockers"]]

    @extend_schema_field(TimelineRowSerializer(many=True))
    def get_timeline(self, review: PostIncidentReview) -> list[dict[str, Any]]:
        return list(self.context["timeline"])

    @extend_schema_field(LinksSerializer)
    def get_links(self, review: PostIncidentReview) -> dict[str, str]:
        number = review.major_incident.number

        def api(name: str) -> str:
            return reverse(name, args=[number])

        return {
            "self": api("pir-review"),
            "export": api("pir-export"),
            "comments": api("pir-comments"),
            "action_items": api("pir-action-items"),
            "draft": api("pir-draft"),
            "war_room": reverse("warroom:page", args=[number]),
            "page": reverse("pir:review", args=[number]),
        }


class DraftInputSerializer(InputSerializer):
    drafter = serializers.ChoiceField(
        choices=DRAFTERS,
        required=False,
        default="auto",
        help_text='"auto": the drafting model when configured, else the template',
    )

    class Meta:
        ref_name = "ReviewDraftInput"


class DraftSectionsSerializer(serializers.Serializer):
    summary = serializers.CharField()
    detection = serializers.CharField()
    resolution = serializers.CharField()

    class Meta:
        ref_name = "ReviewDraftSections"


class DraftSerializer(serializers.Serializer):
    sections = DraftSectionsSerializer()
    drafted_by = serializers.ChoiceField(choices=["template", "copilot"])
    note = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "ReviewDraft"
