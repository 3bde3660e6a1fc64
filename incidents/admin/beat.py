"""django-celery-beat's periodic tasks, as a manager's list: one filter per field, fits 1366 px."""

from __future__ import annotations

from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    # ``start_time`` is the date hierarchy above the list already; "one off" and the interval
    # are in the schedule column, which reads them.
    list_display = ("name", "enabled", "scheduler", "last_run_at")
    list_filter = ["enabled", "one_off", "task", "last_run_at"]
