"""The system's records of stakeholder communication, read-only in the admin.

An update is written, approved and sent through ``comms.services.updates`` (the war room or its
API), each step with its timeline row; the Slack channel, the communication clock and the
providers' ids are written by the channels and the scheduler. Here a manager reads them across
MIs.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.text import Truncator

from incidents.admin.common import (
    MajorIncidentNumberSearch,
    ModelAdmin,
    ReadOnlyInline,
    titled,
)

from ..models import CommsState, ExternalRecord, IncidentChannel, OutboxMessage, StakeholderUpdate

_READ_ONLY = ("add", "change", "delete")


class UpdateOutboxInline(ReadOnlyInline):
    model = OutboxMessage
    fk_name = "update"
    verbose_name_plural = "outbox (one row per recipient and channel)"
    fields = ("channel", "recipient", "status", "attempts", "sent_at", "last_error")
    readonly_fields = fields
    ordering = ["channel", "recipient"]


@admin.register(StakeholderUpdate)
class StakeholderUpdateAdmin(MajorIncidentNumberSearch, ModelAdmin):
    never = dict.fromkeys(
        _READ_ONLY,
        "Stakeholder updates are records: written, approved and sent in the war room (or its "
        "API), which writes each step to the timeline.",
    )
    list_display = [
        "major_incident",
        "update_type",
        "status",
        "subject",
        "author",
        "approver",
        "automatic",
        "is_public",
        "sent_at",
    ]
    list_filter = [
        "status",
        "update_type",
        ("automatic", titled(admin.BooleanFieldListFilter, "automatic (from the template)")),
        ("is_public", titled(admin.BooleanFieldListFilter, "on the status page")),
    ]
    search_fields = ["subject", "current_impact", "current_action", "user_action"]
    list_select_related = ["major_incident", "author", "approver"]
    date_hierarchy = "created_at"
    inlines = [UpdateOutboxInline]
    fieldsets = [
        (None, {"fields": ["major_incident", "update_type", "status", "subject"]}),
        (
            "The four parts",
            {"fields": ["current_impact", "current_action", "user_action", "next_update_at"]},
        ),
        (None, {"fields": ["body"]}),
        (
            "Who and when",
            {
                "fields": [
                    "author",
                    "approver",
                    "approved_at",
                    "sent_at",
                    "automatic",
                    "is_public",
                    "drafted_by",
                    "slot",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = [f for _, spec in fieldsets for f in spec["fields"]]  # type: ignore[misc]


@admin.register(IncidentChannel)
class IncidentChannelAdmin(ModelAdmin):
    never = dict.fromkeys(
        _READ_ONLY, "An MI's Slack channel is a record: MIM Desk opens it when the MI is declared."
    )
    list_display = ["major_incident", "name", "channel_id", "created_at", "ready_at"]
    list_select_related = ["major_incident"]
    search_fields = ["name", "channel_id"]
    readonly_fields = [
        "major_incident",
        "name",
        "channel_id",
        "created_at",
        "ready_at",
        "invited",
        "pinned_ts",
    ]


@admin.register(CommsState)
class CommsStateAdmin(ModelAdmin):
    never = dict.fromkeys(
        _READ_ONLY,
        "The communication clock is a record kept by the scheduler and the war room.",
    )
    list_display = [
        "major_incident",
        "next_executive_due_at",
        "reminder_sent_for",
        "all_clear_sent_at",
        "investigation_completed_at",
    ]
    list_select_related = ["major_incident"]
    readonly_fields = [
        "major_incident",
        "next_executive_due_at",
        "reminder_sent_for",
        "all_clear_sent_at",
        "investigation_completed_at",
        "investigation_completed_by",
    ]


@admin.register(ExternalRecord)
class ExternalRecordAdmin(ModelAdmin):
    never = dict.fromkeys(
        _READ_ONLY, "A provider's record of an MI is written by its channel when it answers."
    )
    list_display = ["major_incident", "channel", "external_id_short", "updated_at"]
    list_filter = ["channel"]
    list_select_related = ["major_incident"]
    search_fields = ["external_id"]
    readonly_fields = ["major_incident", "channel", "external_id", "data", "updated_at"]

    @admin.display(description="external id", ordering="external_id")
    def external_id_short(self, record: ExternalRecord) -> str:
        return Truncator(record.external_id).chars(40)
