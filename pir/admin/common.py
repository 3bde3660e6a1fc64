"""What the PIR admin pages share: finding rows by their MI's number, read-only inlines."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from incidents.admin.common import TabularInline
from incidents.models import MajorIncident

# The document, its comments and action items are written on the review's page (or its API),
# through ``pir.services``, each step with its timeline row; the admin reads them.
READ_ONLY = ("add", "change")


class MajorIncidentNumberSearch:
    """The search box finds a review's rows by its MI's number (``MI0000042``) as well as by
    text. ``mi_path`` is the lookup from the row to the MI's id."""

    mi_path = "major_incident_id"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        results, distinct = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        pk = MajorIncident.pk_from_number(search_term.strip()) if search_term else None
        if pk is not None:
            results = results | queryset.filter(**{self.mi_path: pk})
        return results, distinct


class ReadOnlyInline(TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
