"""The other apps' admins on MIM Desk's site: users and roles (auth), beat's periodic tasks.

Each is Django's or django-celery-beat's own, asking ``selectors.can`` and saying who may when it
refuses, like the incidents app's admins. Periodic tasks also lose a filter that repeated their
date hierarchy, and two columns, so that the list fits 1366 px.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User
from django_celery_beat import admin as beat
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from .common import AccessMixin, ExplainedRefusals

for model in (User, Group, PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule,
              ClockedSchedule):  # fmt: skip
    admin.site.unregister(model)


@admin.register(User)
class UserAdmin(ExplainedRefusals, AccessMixin, DjangoUserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(ExplainedRefusals, AccessMixin, DjangoGroupAdmin):
    pass


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(ExplainedRefusals, AccessMixin, beat.PeriodicTaskAdmin):
    # ``start_time`` is the date hierarchy above the list already; "one off" and the interval
    # are in the schedule column, which reads them.
    list_display = ("name", "enabled", "scheduler", "last_run_at")
    list_filter = ["enabled", "one_off", "task", "last_run_at"]


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(ExplainedRefusals, AccessMixin, beat.IntervalScheduleAdmin):
    pass


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(ExplainedRefusals, AccessMixin, beat.CrontabScheduleAdmin):
    pass


@admin.register(SolarSchedule)
class SolarScheduleAdmin(ExplainedRefusals, AccessMixin, beat.SolarScheduleAdmin):
    pass


@admin.register(ClockedSchedule)
class ClockedScheduleAdmin(ExplainedRefusals, AccessMixin, beat.ClockedScheduleAdmin):
    pass
