"""What the admin pages share: permissions through ``selectors.can``, refusals in words, search.

Every ``ModelAdmin`` here derives from ``ModelAdmin`` below (every inline from ``TabularInline``)
so that the admin asks the same helper as the API and the web pages, and its 403 page says who
may instead of Django's bare "403 Forbidden".
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from .. import selectors
from ..errors import DomainError, NotAllowed
from ..models import MajorIncident


class AccessMixin:
    """``has_*_permission`` answered by ``selectors.can`` on the row (or the model).

    An action named in ``never`` (``ExplainedRefusals``) is refused to everyone here, superusers
    included: the admin is not the place for it (a timeline row is never edited, an incident
    never deleted).
    """

    model: Any
    never: dict[str, str] = {}

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can(request.user, "view", obj or self.model)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return "add" not in self.never and selectors.can(request.user, "add", self.model)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return "change" not in self.never and selectors.can(
            request.user, "change", obj or self.model
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return "delete" not in self.never and selectors.can(
            request.user, "delete", obj or self.model
        )


class ExplainedRefusals:
    """Django's admin refuses with a bare 403; say who may (or why nobody may) instead."""

    model: Any
    # What a refused page says when no role may do it here (the admin returns False for all),
    # by action: e.g. {"delete": "Incidents are records: cancel them, never delete them."}.
    never: dict[str, str] = {}
    # The vocabulary's action a page stands for, where it is not the page's own (adding an MI is
    # declaring one), so that the refusal names the right people.
    asks: dict[str, str] = {}

    def _explained(self, action: str, view: Any, request: HttpRequest, *args: Any) -> Any:
        try:
            return view(request, *args)
        except PermissionDenied as exc:
            if str(exc):
                raise
            reason = self.never.get(action) or selectors.refusal(
                self.asks.get(action, action), self.model
            )
            raise PermissionDenied(reason) from None

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return self._explained("view", super().changelist_view, request, extra_context)  # type: ignore[misc]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return self._explained("add", super().add_view, request, form_url, extra_context)  # type: ignore[misc]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        action = "change" if request.method == "POST" else "view"
        return self._explained(
            action,
            super().change_view,  # type: ignore[misc]
            request,
            object_id,
            form_url,
            extra_context,
        )

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        return self._explained("delete", super().delete_view, request, object_id, extra_context)  # type: ignore[misc]

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        return self._explained("view", super().history_view, request, object_id, extra_context)  # type: ignore[misc]


class ModelAdmin(ExplainedRefusals, AccessMixin, admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if not selectors.can(request.user, "view", self.model):
            return queryset  # the permission checks refuse them, with a 403 saying who may
        # The rows the user may read: all of them for a role that may, a team's own MIs.
        return selectors.restrict(queryset, request.user, "view")


class TabularInline(admin.TabularInline):
    """Inline rows: the inline model's permissions (``obj`` is the parent row, not theirs)."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can(request.user, "view", self.model)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can(request.user, "add", self.model)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can(request.user, "change", self.model)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.can(request.user, "delete", self.model)


class ReadOnlyInline(TabularInline):
    """An inline of records the admin only shows (an update's deliveries, a review's comments)."""

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


def titled(base: type[admin.FieldListFilter], title: str) -> type[admin.FieldListFilter]:
    """``base`` headed "By <title>" rather than by the field's name ("By is security")."""

    class Titled(base):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return Titled


SECURITY_FILTER = ("is_security", titled(admin.BooleanFieldListFilter, "security"))


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


class MajorIncidentNumberSearch:
    """The search box finds an MI's rows (its updates, outbox rows, review …) by the MI's number
    (``MI0000042``) as well as by text. ``mi_path`` is the lookup from the row to the MI's id."""

    mi_path = "major_incident_id"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        results, distinct = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        pk = MajorIncident.pk_from_number(search_term.strip()) if search_term else None
        if pk is not None:
            results = results | queryset.filter(**{self.mi_path: pk})
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
