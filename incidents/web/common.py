"""What the web pages share: the permission decorator, look-ups and form context.

A view checks who may do what (login, then a model permission), parses a form, calls one service
and renders or redirects. A ``DomainError`` becomes an error on the form; ``NotAllowed`` a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from ..errors import NotAllowed
from ..models import (
    Incident,
)

PAGE_SIZE = 50

View = Callable[..., HttpResponse]


def requires(perm: str) -> Callable[[View], View]:
    """Log in first (a redirect), then hold ``perm`` (a 403 naming the missing permission)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied(f"You need the permission {perm} for this page.")
            try:
                return view(request, *args, **kwargs)
            except NotAllowed as exc:
                raise PermissionDenied(exc.message) from exc

        return login_required(wrapped)

    return decorator


def incident_or_404(number: str, queryset: QuerySet[Incident] | None = None) -> Incident:
    pk = Incident.pk_from_number(number)
    rows = queryset if queryset is not None else Incident.objects.all()
    incident = rows.filter(pk=pk).first() if pk is not None else None
    if incident is None:
        raise Http404(f"No incident {number}")
    return incident
