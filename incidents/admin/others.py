"""The other apps' admins on MIM Desk's site: users and roles (auth), beat's periodic tasks.

A user's MIM Desk profile (their Slack member id, which ``/mim`` knows them by) is edited on the
user's own page: whoever may change the user may change it.

Each is Django's or django-celery-beat's own, asking ``selectors.can`` and saying who may when it
refuses, like the incidents app's admins. Periodic tasks also lose a filter that repeated their
date hierarchy, and two columns, so that the list fits 1366 px.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest
from django_celery_beat import admin as beat
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from .. import selectors
from ..models import UserProfile
from .common import AccessMixin, ExplainedRefusals

for model in (User, Group, PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule,
              ClockedSchedule):  # fmt: skip
    admin.site.unregister(model)


# Slack's member ids: U… (or W… on Enterprise Grid), then upper-case letters and digits.
SLACK_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")


class UserProfileForm(forms.ModelForm):
    slack_user_id = forms.CharField(
        label="Slack member id",
        required=False,
        max_length=32,
        help_text="Slack → the person's profile → ⋮ → Copy member ID. `/mim` acts as this user.",
    )

    class Meta:
        model = UserProfile
        fields = ["slack_user_id"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not settings.SLACK_SIGNING_SECRET:
            # An integration that is off says so in the admin (DESIGN, Configuration).
            self.fields[
                "slack_user_id"
            ].help_text += " Slack commands are off here: SLACK_SIGNING_SECRET is unset."

    def clean_slack_user_id(self) -> str | None:
        # Blank is "not linked": NULL, which the unique constraint lets many users share.
        value = (self.cleaned_data.get("slack_user_id") or "").strip().upper()
        if value and not SLACK_MEMBER_ID.fullmatch(value):
            raise forms.ValidationError("A Slack member id looks like U0123ABCD.")
        return value or None


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    form = UserProfileForm
    can_delete = False
    max_num = 1
    verbose_name_plural = "MIM Desk profile"

    # The profile is part of the user: the user's permissions decide (selectors.can, as above).
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can(request.user, "view", User)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can(request.user, "change", User)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can(request.user, "change", User)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(ExplainedRefusals, AccessMixin, DjangoUserAdmin):
    inlines = [UserProfileInline]


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
