"""Threads in the admin: read-only. A thread is opened in the war room, through its service
(which checks the name, the owner and the MI's state, and writes the timeline row)."""

from __future__ import annotations

from django.contrib import admin

from incidents.admin.common import ModelAdmin

from ..models import Thread


@admin.register(Thread)
class ThreadAdmin(ModelAdmin):
    never = dict.fromkeys(
        ("add", "change", "delete"),
        "Threads are opened in the war room (or its API), which writes them to the timeline.",
    )

    list_display = ["name", "slug", "major_incident", "owner", "created_by", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "slug"]
    list_select_related = ["major_incident", "owner", "created_by"]
    readonly_fields = ["major_incident", "slug", "name", "owner", "created_by", "created_at"]
