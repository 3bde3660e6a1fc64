"""Action items, bridge stays and scratchpad versions in the admin: records, read-only here.

Each changes through its war-room service (which checks the MI's state and who may, and writes
the timeline row); the admin lets a manager look across MIs ("every overdue action item").
"""

from __future__ import annotations

from django.contrib import admin

from incidents.admin.common import ModelAdmin

from ..models import ActionItem, BridgeAttendance, ScratchpadVersion

_IN_THE_WAR_ROOM = "changed in the war room (or its API), which writes each change to the timeline"


@admin.register(ActionItem)
class ActionItemAdmin(ModelAdmin):
    never = dict.fromkeys(("add", "change", "delete"), f"Action items are {_IN_THE_WAR_ROOM}.")
    list_display = ["title", "major_incident", "owner", "status", "due_at", "thread", "updated_at"]
    list_filter = ["status"]
    search_fields = ["title"]
    list_select_related = ["major_incident", "owner"]
    readonly_fields = [
        "major_incident",
        "title",
        "owner",
        "due_at",
        "status",
        "thread",
        "created_by",
        "created_at",
        "updated_at",
        "done_at",
    ]


@admin.register(BridgeAttendance)
class BridgeAttendanceAdmin(ModelAdmin):
    never = dict.fromkeys(("add", "change", "delete"), f"Bridge attendance is {_IN_THE_WAR_ROOM}.")
    list_display = ["user", "major_incident", "joined_at", "left_at", "recorded_by"]
    list_select_related = ["major_incident", "user", "recorded_by"]
    search_fields = ["user__username"]
    readonly_fields = ["major_incident", "user", "joined_at", "left_at", "recorded_by"]


@admin.register(ScratchpadVersion)
class ScratchpadVersionAdmin(ModelAdmin):
    never = dict.fromkeys(("add", "change", "delete"), f"The scratchpad is {_IN_THE_WAR_ROOM}.")
    list_display = ["major_incident", "version", "saved_by", "saved_at"]
    list_select_related = ["major_incident", "saved_by"]
    readonly_fields = ["major_incident", "version", "text", "saved_by", "saved_at"]
