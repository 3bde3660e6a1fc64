"""Reading reviews: by MI number, with what their pages and API show."""

from __future__ import annotations

from django.db.models import QuerySet

from incidents.models import MajorIncident

from ..models import PostIncidentReview, ReviewActionItem, ReviewActionStatus

REVIEW_RELATED = ("major_incident__incident__affected_ci", "published_by")


def reviews() -> QuerySet[PostIncidentReview]:
    return PostIncidentReview.objects.select_related(*REVIEW_RELATED).prefetch_related("authors")


def review_of(mi: MajorIncident) -> PostIncidentReview | None:
    """The MI's review, or None before it is resolved."""
    return reviews().filter(major_incident=mi).first()


def action_items(review: PostIncidentReview) -> QuerySet[ReviewActionItem]:
    return review.action_items.select_related(
        "owner", "problem_task", "change", "tracker_message"
    ).order_by("created_at", "id")


def unready_action_items(review: PostIncidentReview) -> list[tuple[ReviewActionItem, list[str]]]:
    """The action items that block publishing, each with what it lacks (owner, due date,
    priority); a cancelled item blocks nothing."""
    unready = []
    for item in action_items(review).exclude(status=ReviewActionStatus.CANCELLED):
        missing = [
            label
            for label, value in (
                ("an owner", item.owner_id),
                ("a due date", item.due_date),
                ("a priority", item.priority),
            )
            if not value
        ]
        if missing:
            unready.append((item, missing))
    return unready
