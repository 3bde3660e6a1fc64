"""The admin of the first-hour checkpoints: the templates are editable reference data (what new
MIs get); an MI's checkpoints and its assessment revisions are records, read-only here (they
change through the war room's services, each with its timeline row)."""

from __future__ import annotations

from django.contrib import admin

from incidents.admin.common import ModelAdmin

from ..models import AssessmentRevision, Checkpoint, CheckpointTemplate


@admin.register(CheckpointTemplate)
class CheckpointTemplateAdmin(ModelAdmin):
    never = {
        "delete": "Templates are never deleted: deactivate one instead (untick Active); MIs "
        "declared before keep their checkpoints, and new ones no longer get it."
    }
    list_display = [
        "name",
        "phase",
        "starts_after_minutes",
        "due_after_minutes",
        "fulfilled_by",
        "position",
        "active",
    ]
    list_filter = ["active", "fulfilled_by"]
    ordering = ["due_after_minutes", "position", "id"]
    search_fields = ["name", "phase"]
    fields = [
        "name",
        "description",
        "phase",
        "starts_after_minutes",
        "due_after_minutes",
        "fulfilled_by",
        "position",
        "active",
    ]


_RECORD = "{} are the record of an MI's war room, changed there (each change on the timeline)."


@admin.register(Checkpoint)
class CheckpointAdmin(ModelAdmin):
    never = dict.fromkeys(("add", "change", "delete"), _RECORD.format("Checkpoints"))
    list_display = ["name", "major_incident", "due_at", "done_at", "done_by", "done_automatically"]
    list_filter = ["done_automatically", "fulfilled_by"]
    list_select_related = ["major_incident", "done_by"]
    search_fields = ["name"]
    ordering = ["-major_incident_id", "due_at", "id"]


@admin.register(AssessmentRevision)
class AssessmentRevisionAdmin(ModelAdmin):
    never = dict.fromkeys(("add", "change", "delete"), _RECORD.format("Assessment revisions"))
    list_display = ["major_incident", "revision", "author", "created_at", "sla_breach_risk"]
    list_select_related = ["major_incident", "author"]
    list_filter = ["sla_breach_risk", "root_cause_confirmed"]
    ordering = ["-major_incident_id", "-revision"]
