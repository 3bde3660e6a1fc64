"""The outbox in the admin: every outbound message and its attempts, read-only, the channels'
on/off state over the list, and "Retry now" for what failed.

Rows are written by ``comms.services`` (enqueue, deliver, re-drive) only; the one thing an
operator does here is put failed or dead rows back in the queue, through ``services.retry_now``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.text import Truncator

from incidents import selectors as incident_selectors
from incidents.admin.common import MajorIncidentNumberSearch, ModelAdmin, ReadOnlyInline
from incidents.models import MajorIncident

from .. import channels, services
from ..models import DeliveryAttempt, OutboxMessage, OutboxStatus


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    show_change_link = False
    verbose_name_plural = "delivery attempts"
    fields = ("number", "started_at", "finished_at", "outcome", "error", "retry_after")
    readonly_fields = fields
    ordering = ["number"]


def channel_states() -> list[dict[str, str]]:
    """Each registered channel, on or off and why, as the changelist's header shows them."""
    return [
        {"name": name, "state": "off" if reason else "on", "reason": reason}
        for name, reason in channels.off_reasons().items()
    ]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(MajorIncidentNumberSearch, ModelAdmin):
    never = dict.fromkeys(
        ("add", "change", "delete"),
        "The outbox is a record of what MIM Desk sent: rows are written when updates go out; a "
        "failed one is retried with the list's \u201cRetry now\u201d action.",
    )
    change_list_template = "admin/comms/outboxmessage/change_list.html"
    change_form_template = "admin/comms/outboxmessage/change_form.html"
    list_display = [
        "channel",
        "recipient_short",
        "purpose",
        "status",
        "attempts",
        "mi_number",
        "when",
        "error_short",
    ]
    list_display_links = ["recipient_short"]
    list_filter = ["status", "channel", "purpose"]
    search_fields = ["recipient", "idempotency_key", "subject"]
    list_select_related = ["major_incident"]
    actions = ["retry_selected"]
    inlines = [DeliveryAttemptInline]
    fieldsets = [
        (
            None,
            {"fields": ["channel", "recipient", "purpose", "subject", "major_incident", "update"]},
        ),
        (
            "Delivery",
            {
                "fields": [
                    "status",
                    "attempts",
                    "next_attempt_at",
                    "claimed_at",
                    "sent_at",
                    "provider_message_id",
                    "last_error",
                ]
            },
        ),
        ("Message", {"fields": ["idempotency_key", "payload", "created_at", "updated_at"]}),
    ]
    readonly_fields = [f for _, spec in fieldsets for f in spec["fields"]]  # type: ignore[misc]

    # The columns are cut so that the list fits 1366 px; the row's page has everything.
    @admin.display(description="recipient", ordering="recipient")
    def recipient_short(self, message: OutboxMessage) -> str:
        return Truncator(message.recipient).chars(40)

    @admin.display(description="MI", ordering="major_incident_id")
    def mi_number(self, message: OutboxMessage) -> str:
        return message.major_incident.number if message.major_incident else "–"

    @admin.display(description="when", ordering="next_attempt_at")
    def when(self, message: OutboxMessage) -> str:
        """Sent at, or when the next attempt is due (a row not sent yet)."""
        if message.sent_at:
            return f"sent {message.sent_at:%Y-%m-%d %H:%M}"
        if message.status in (OutboxStatus.PENDING, OutboxStatus.FAILED):
            return f"next {message.next_attempt_at:%Y-%m-%d %H:%M}"
        return ""

    @admin.display(description="last error")
    def error_short(self, message: OutboxMessage) -> str:
        return Truncator(message.last_error).chars(48)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # An integration whose settings are unset is off and says so here (DESIGN, Configuration):
        # an operator reading "failed: channel off" sees which setting is missing.
        extra_context = {**(extra_context or {}), "channel_states": channel_states()}
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # The row's own "Retry now" (the list's action on this one row), while it failed or died.
        retryable = self.get_queryset(request).filter(
            pk=object_id if str(object_id).isdigit() else None,
            status__in=[OutboxStatus.FAILED, OutboxStatus.DEAD],
        )
        can_retry = self.has_retry_permission(request) and retryable.exists()
        extra_context = {**(extra_context or {}), "can_retry": can_retry}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- Retry now ---------------------------------------------------------------------------

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Whoever may send an MI's updates may send its messages again."""
        return incident_selectors.can(
            request.user, "view", OutboxMessage
        ) and incident_selectors.can(request.user, "send_updates", MajorIncident)

    @admin.action(description="Retry now (failed and dead messages)", permissions=["retry"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        mis = incident_selectors.restrict(MajorIncident.objects.all(), request.user, "send_updates")
        allowed = Q(major_incident__in=mis)
        if incident_selectors.can(request.user, "declare"):
            allowed |= Q(major_incident__isnull=True)  # system notices outside any MI
        retryable = queryset.filter(allowed, status__in=[OutboxStatus.FAILED, OutboxStatus.DEAD])
        count = services.retry_now(list(retryable))
        left = queryset.count() - count
        if count:
            self.message_user(
                request,
                f"{count} message{'s' if count != 1 else ''} queued to be sent again now.",
                messages.SUCCESS,
            )
        if left:
            self.message_user(
                request,
                f"{left} message{'s were' if left != 1 else ' was'} left alone: only failed or "
                "dead messages of MIs whose updates you may send are retried.",
                messages.WARNING,
            )
