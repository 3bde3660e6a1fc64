from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from incidents.models import (
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
    Problem,
    ProblemState,
)


class IncidentFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=IncidentState.choices)
    priority = django_filters.MultipleChoiceFilter(choices=[(i, i) for i in range(1, 6)])
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
