"""Reading reviews: by MI number, with what their pages and API show."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from incidents.models import MajorIncident

from ..models import PostIncidentReview, ReviewActionItem, ReviewActionStatus

REVIEW_RELATED = ("major_incident__incident__affected_ci", "published_by")


def review_page(mi: MajorIncident, item_id: int | None = None) -> str:
    """The review's page, site-relative (at the action item ``#action-<id>`` when given)."""
    url = reverse("pir:review", args=[mi.number])
    return f"{url}#action-{item_id}" if item_id else url


def review_link(mi: MajorIncident) -> str:
    """The review's page as an absolute URL, for messages, invitations and Jira."""
    return str(settings.MIM_BASE_URL).rstrip("/") + review_page(mi)


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
