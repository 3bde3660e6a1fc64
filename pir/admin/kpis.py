"""The monthly KPI reports: the system's record of each month sent, read-only."""

from __future__ import annotations

from django.contrib import admin

from incidents.admin.common import ModelAdmin

from ..models import KpiReport


@admin.register(KpiReport)
class KpiReportAdmin(ModelAdmin):
    never = dict.fromkeys(
        ("add", "change", "delete"),
        "A KPI report is a record: the monthly task writes it when it sends the month's KPIs.",
    )
    list_display = ["month", "recipients", "created_at", "sent_at"]
    list_filter = ["sent_at"]
    date_hierarchy = "month"
    readonly_fields = ["month", "data", "recipients", "created_at", "sent_at"]
