"""What the admin pages share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from ..errors import DomainError, NotAllowed

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


class ServiceRefusalMixin:
    """A service's refusal on save (a rule the form could not check, or a race) is a message.

    The admin saves through the services inside its own transaction; a ``DomainError`` raised
    there rolls the save back. Without this, it would be a 500. The page comes back (GET) with
    the refusal on top; ``NotAllowed`` is a 403.
    """

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            self.message_user(  # type: ignore[attr-defined]
                request, exc.message[:1].upper() + exc.message[1:], messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())
