"""A review's action items in the admin, with where each went: its problem task, its change, its
Jira issue. Read-only: they are agreed on the review's page and converted there (or through the
API), by ``pir.services``."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from incidents.admin.common import MajorIncidentNumberSearch, ModelAdmin

from ..models import ReviewActionItem
from ..selectors.actions import tracker_of
from ..selectors.reviews import review_page
from .common import READ_ONLY


@admin.register(ReviewActionItem)
class ReviewActionItemAdmin(MajorIncidentNumberSearch, ModelAdmin):
    mi_path = "review__major_incident_id"
    never = dict.fromkeys(
        READ_ONLY,
        "A review's action items are agreed on its page and turned into work there, which "
        "writes each step to the MI's timeline.",
    )
    list_display = [
        "title",
        "major_incident",
        "kind",
        "owner",
        "due_date",
        "priority",
        "status",
        "work",
    ]
    list_filter = ["status", "kind", "priority", "due_date"]
    search_fields = ["title", "description", "tracker_key"]
    list_select_related = [
        "review__major_incident",
        "owner",
        "problem_task",
        "change",
        "tracker_message",
    ]
    readonly_fields = [
        "review",
        "on_its_page",
        "title",
        "description",
        "kind",
        "owner",
        "due_date",
        "priority",
        "status",
        "work",
        "war_room_item",
        "tracker_message",
        "created_by",
        "created_at",
        "updated_at",
        "done_at",
    ]
    exclude = ["problem_task", "change", "tracker_key", "tracker_url"]

    @admin.display(description="major incident", ordering="review__major_incident")
    def major_incident(self, item: ReviewActionItem) -> str:
        return item.review.major_incident.number

    @admin.display(description="on its page")
    def on_its_page(self, item: ReviewActionItem) -> SafeString:
        url = review_page(item.review.major_incident, item.pk)
        return format_html('<a href="{}">the review</a>', url)

    @admin.display(description="became")
    def work(self, item: ReviewActionItem) -> SafeString | str:
        links: list[tuple[str, str]] = []
        if item.problem_task is not None:
            url = reverse("admin:incidents_problemtask_change", args=[item.problem_task.pk])
            links.append((url, item.problem_task.number))
        if item.change is not None:
            url = reverse("admin:incidents_change_change", args=[item.change.pk])
            links.append((url, item.change.number))
        tracker = tracker_of(item)
        if tracker is not None and tracker.url:
            links.append((tracker.url, tracker.key))
        shown = format_html_join(", ", '<a href="{}">{}</a>', links) if links else ""
        if tracker is not None and not tracker.url:
            # Not sent yet (or dead), or Jira switched off since: the key alone, or the state.
            plain = tracker.key or f"Jira: {tracker.status}"
            return format_html("{}{}{}", shown, ", " if shown else "", plain)
        return shown or "-"
