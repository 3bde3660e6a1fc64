"""Reviews and their comments in the admin: managers read them across MIs; the document is
edited on its page (linked from each row); super admins may delete one made by mistake."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from incidents.admin.common import MajorIncidentNumberSearch, ModelAdmin, ReadOnlyInline, titled

from ..models import DOCUMENT_SECTIONS, PostIncidentReview, ReviewComment, ReviewStatus
from ..selectors.reviews import review_page
from .common import READ_ONLY

EDITED_ON_ITS_PAGE = (
    "A review is written on its page (or through its API), where every step is versioned and "
    "written to the MI's timeline; the admin only reads it."
)


def is_overdue(review: PostIncidentReview, now: Any = None) -> bool:
    """Not published and past its publish deadline (or flagged so by the 15-minute task)."""
    if review.status == ReviewStatus.PUBLISHED:
        return False
    if review.overdue_flagged_at is not None:
        return True
    return review.publish_due_at is not None and review.publish_due_at < (now or timezone.now())


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        late = ~Q(status=ReviewStatus.PUBLISHED) & (
            Q(overdue_flagged_at__isnull=False) | Q(publish_due_at__lt=timezone.now())
        )
        if self.value() == "yes":
            return queryset.filter(late)
        if self.value() == "no":
            return queryset.exclude(late)
        return queryset


class CommentInline(ReadOnlyInline):
    model = ReviewComment
    fields = ("created_at", "author", "section", "body")
    readonly_fields = fields


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(MajorIncidentNumberSearch, ModelAdmin):
    never = dict.fromkeys(READ_ONLY, EDITED_ON_ITS_PAGE)
    list_display = [
        "major_incident",
        "title_short",
        "status",
        "meeting_at",
        "publish_due_at",
        "overdue",
        "published_at",
        "page",
    ]
    list_filter = [
        "status",
        OverdueFilter,
        "distribution",
        ("post_publicly", titled(admin.BooleanFieldListFilter, "public version")),
        "meeting_at",
        "published_at",
    ]
    search_fields = ["title", "summary"]
    list_select_related = ["major_incident"]
    date_hierarchy = "created_at"
    inlines = [CommentInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "major_incident",
                    "page",
                    "status",
                    "version",
                    "title",
                    "authors",
                    "distribution",
                ]
            },
        ),
        (
            "Meeting and deadline",
            {
                "fields": [
                    "meeting_at",
                    "meeting_minutes",
                    "meeting_location",
                    "meeting_sequence",
                    "meeting_cancelled_at",
                    "publish_due_at",
                    "overdue_flagged_at",
                ]
            },
        ),
        ("The document", {"fields": [name for name, _ in DOCUMENT_SECTIONS]}),
        (
            "Impact in figures",
            {
                "fields": [
                    "customers_affected",
                    "customers_affected_percent",
                    "revenue_impact",
                    "revenue_currency",
                    "sla_credits",
                    "support_tickets",
                    "support_tickets_increase_percent",
                ]
            },
        ),
        ("Public version", {"fields": ["post_publicly", "public_summary"]}),
        (
            "Who and when",
            {
                "fields": [
                    "drafted_by",
                    "created_at",
                    "updated_at",
                    "submitted_at",
                    "published_at",
                    "published_by",
                ]
            },
        ),
    ]
    readonly_fields = [f for _, spec in fieldsets for f in spec["fields"]]  # type: ignore[misc]

    @admin.display(description="title", ordering="title")
    def title_short(self, review: PostIncidentReview) -> str:
        return Truncator(review.title).chars(60)

    @admin.display(description="overdue", boolean=True)
    def overdue(self, review: PostIncidentReview) -> bool:
        return is_overdue(review)

    @admin.display(description="edit")
    def page(self, review: PostIncidentReview) -> str:
        return format_html('<a href="{}">on its page</a>', review_page(review.major_incident))


@admin.register(ReviewComment)
class ReviewCommentAdmin(MajorIncidentNumberSearch, ModelAdmin):
    mi_path = "review__major_incident_id"
    never = dict.fromkeys(READ_ONLY, "Review comments are written on the review's page.")
    list_display = ["review", "section", "body_short", "author", "created_at"]
    list_filter = ["section", "created_at"]
    search_fields = ["body"]
    list_select_related = ["review__major_incident", "author"]
    readonly_fields = ["review", "author", "section", "body", "created_at"]

    @admin.display(description="comment")
    def body_short(self, comment: ReviewComment) -> str:
        return Truncator(comment.body).chars(80)
