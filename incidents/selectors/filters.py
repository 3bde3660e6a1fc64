"""One FilterSet per list, shared by the API's viewsets and the web pages (STYLE habit 15).

A web list's filter bar is its FilterSet's form: a filter added here works in both. On the page
a bad value is ignored (the FilterSet leaves out a field that does not validate); the API
answers it with a 400 (``DjangoFilterBackend`` raises on an invalid form).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from ..models import (
    OPEN_INCIDENT_STATES,
    OPEN_MI_STATUSES,
    CandidateStatus,
    Change,
    ChangeState,
    ChangeType,
    ConfigurationItem,
    Incident,
    IncidentState,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    Priority,
    Problem,
    ProblemState,
)


class SelectOne(forms.Select):
    """One choice on a page, with an "any" option; any number of them in a query string
    (``?state=new&state=on_hold``), as the multiple-choice filter behind it reads them."""

    def __init__(self, empty_label: str, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.empty_label = empty_label

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return [value for value in values if value not in (None, "")]

    def optgroups(self, name: str, value: list[str], attrs: dict[str, Any] | None = None) -> Any:
        chosen = [v for v in value if v]
        empty = self.create_option(name, "", self.empty_label, not chosen, 0, attrs=attrs)
        return [(None, [empty], 0), *super().optgroups(name, chosen, attrs)]


class Checkbox(forms.CheckboxInput):
    """A checkbox on a page (``on``); ``true``/``false`` or ``1``/``0`` in a query string."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> bool:
        value = data.get(name)
        return value is not None and str(value).lower() in ("on", "true", "1")


class IncidentFilter(django_filters.FilterSet):
    """The incident list's filters: the API's, and the web list's filter bar (``q``, ``state``,
    ``priority``, ``mine`` are the ones its page shows)."""

    q = django_filters.CharFilter(
        method="filter_q",
        label="Search",
        max_length=200,
        help_text="Text in the short description or description, or an exact number",
    )
    state = django_filters.MultipleChoiceFilter(
        choices=[("open", "Open"), *IncidentState.choices],
        method="filter_state",
        widget=SelectOne("Any state"),
        help_text="A state, or open for every open one; repeat for several",
    )
    priority = django_filters.MultipleChoiceFilter(
        choices=[(p, f"P{p}") for p in Priority.values], widget=SelectOne("Any priority")
    )
    mine = django_filters.BooleanFilter(
        method="filter_mine", widget=Checkbox, label="Assigned to me"
    )
    assigned_to = django_filters.CharFilter(field_name="assigned_to__username")
    caller = django_filters.CharFilter(field_name="caller__username")
    parent = django_filters.CharFilter(method="filter_parent", help_text="Parent incident number")
    open = django_filters.BooleanFilter(
        method="filter_open", help_text="Only open (or closed) ones"
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = [
            "state", "priority", "impact", "urgency", "channel", "is_security", "affected_ci",
            "assignment_group", "assigned_to", "caller",
        ]  # fmt: skip

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        text = value.strip()
        if not text:
            return queryset
        match = Q(short_description__icontains=text) | Q(description__icontains=text)
        pk = Incident.pk_from_number(text)
        return queryset.filter(match | Q(pk=pk) if pk is not None else match)

    def filter_state(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        states = {s for v in value for s in (OPEN_INCIDENT_STATES if v == "open" else [v])}
        return queryset.filter(state__in=states) if states else queryset

    def filter_mine(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        user = getattr(self.request, "user", None)
        if not value or user is None:
            return queryset
        return queryset.filter(assigned_to=user.pk)

    def filter_parent(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        pk = Incident.pk_from_number(value)
        return queryset.filter(parent_id=pk) if pk else queryset.none()

    def filter_open(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return (
            queryset.filter(state__in=OPEN_INCIDENT_STATES)
            if value
            else queryset.exclude(state__in=OPEN_INCIDENT_STATES)
        )


class ConfigurationItemFilter(django_filters.FilterSet):
    class Meta:
        model = ConfigurationItem
        fields = ["kind", "criticality", "owner_group"]


class ProblemFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=ProblemState.choices)

    class Meta:
        model = Problem
        fields = ["state", "known_error", "affected_ci"]


class ChangeFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=ChangeState.choices)
    change_type = django_filters.MultipleChoiceFilter(choices=ChangeType.choices)

    class Meta:
        model = Change
        fields = ["state", "change_type", "risk", "affected_ci"]


class MajorIncidentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=MIStatus.choices)
    open = django_filters.BooleanFilter(
        method="filter_open", help_text="Only open (or only resolved, closed and cancelled) ones"
    )

    class Meta:
        model = MajorIncident
        fields = ["status", "is_security", "media_attention"]

    def filter_open(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        if value:
            return queryset.filter(status__in=OPEN_MI_STATUSES)
        return queryset.exclude(status__in=OPEN_MI_STATUSES)


class MajorIncidentCandidateFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CandidateStatus.choices)

    class Meta:
        model = MajorIncidentCandidate
        fields = ["status"]
