"""What the admin pages share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import HttpRequest

if TYPE_CHECKING:
    pass


class NumberSearchMixin:
    """Lets the search box find a ticket by its number (``INC0000042``) as well as by text."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        results, distinct = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        pk = queryset.model.pk_from_number(search_term) if search_term else None
        if pk is not None:
            results = results | queryset.filter(pk=pk)
        return results, distinct
