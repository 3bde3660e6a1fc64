"""Reads of an MI's action items, and the one FilterSet the API and the page share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from incidents.models import MajorIncident

from ..models import OPEN_ACTION_STATUSES, ActionItem, ActionStatus


def action_items(mi: MajorIncident) -> QuerySet[ActionItem]:
    """The MI's action items, oldest first, with their owner and author (one query)."""
    return (
        ActionItem.objects.filter(major_incident=mi)
        .select_related("owner", "created_by")
        .order_by("created_at", "id")
    )


def overdue_q(now: datetime | None = None) -> Q:
    """Still to do (open or in progress) and past its due time."""
    return Q(status__in=OPEN_ACTION_STATUSES, due_at__lt=now or timezone.now())


def is_overdue(item: ActionItem, now: datetime | None = None) -> bool:
    return (
        item.status in OPEN_ACTION_STATUSES
        and item.due_at is not None
        and item.due_at < (now or timezone.now())
    )


class ActionItemFilter(django_filters.FilterSet):
    """``?status=open``, ``?owner=usr_bob``, ``?overdue=true``: the API's filters and the page's."""

    status = django_filters.ChoiceFilter(choices=ActionStatus.choices, label="Status")
    owner = django_filters.CharFilter(
        field_name="owner__username",
        max_length=150,
        label="Owner",
        help_text="The owner's username",
    )
    # A choice, not a BooleanFilter: that one reads "maybe" as no filter at all, not a 400.
    overdue = django_filters.ChoiceFilter(
        choices=[("true", "Overdue"), ("false", "Not overdue")],
        method="filter_overdue",
        label="Overdue",
        help_text="true: open or in progress and past due; false: the others",
    )

    class Meta:
        model = ActionItem
        fields = ["status", "owner", "overdue"]

    def filter_overdue(
        self, queryset: QuerySet[ActionItem], name: str, value: Any
    ) -> QuerySet[ActionItem]:
        if value == "true":
            return queryset.filter(overdue_q())
        return queryset.exclude(overdue_q()) if value == "false" else queryset
