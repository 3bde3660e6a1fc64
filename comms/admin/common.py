"""What the comms admin pages share: finding rows by their MI's number."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest

from incidents.models import MajorIncident


class MajorIncidentNumberSearch:
    """The search box finds an MI's rows by its number (``MI0000042``) as well as by text."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        results, distinct = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        pk = MajorIncident.pk_from_number(search_term) if search_term else None
        if pk is not None:
            results = results | queryset.filter(major_incident_id=pk)
        return results, distinct
