"""What the web pages share: the permission decorator, look-ups and form context.

A view checks who may do what (login, then ``selectors.can``, the same helper the API and the
admin ask), parses a form, calls one service and renders or redirects. A ``DomainError`` becomes
an error on the form; ``NotAllowed`` (from ``selectors.ensure`` or a service) a 403 whose page
says who may.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from .. import selectors
from ..errors import NotAllowed
from ..models import (
    Incident,
)

PAGE_SIZE = 50

View = Callable[..., HttpResponse]


def requires(action: str, model: type[Model] | None = None) -> Callable[[View], View]:
    """Log in first (a redirect), then may ``action`` on ``model`` (else a 403 saying who may).

    ``action`` is one of ``selectors.ACTIONS``. A view that acts on one row asks again about that
    row (``selectors.ensure``); its ``NotAllowed`` is a 403 too.
    """
    if action not in selectors.ACTIONS:
        raise ValueError(f"unknown action {action!r}")  # at import, not on the first request

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                selectors.ensure(request.user, action, model)
                return view(request, *args, **kwargs)
            except NotAllowed as exc:
                raise PermissionDenied(exc.message) from None

        return login_required(wrapped)

    return decorator


def incident_or_404(number: str, queryset: QuerySet[Incident] | None = None) -> Incident:
    pk = Incident.pk_from_number(number)
    rows = queryset if queryset is not None else Incident.objects.all()
    incident = rows.filter(pk=pk).first() if pk is not None else None
    if incident is None:
        raise Http404(f"No incident {number}")
    return incident
