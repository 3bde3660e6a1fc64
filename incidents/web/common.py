"""What the web pages share: the permission decorator, look-ups and the forms' round trip.

A view checks who may do what (login, then ``selectors.can``, the same helper the API and the
admin ask), parses a form, calls one service and renders or redirects. A ``DomainError`` becomes
an error on the form (``add_domain_error``, ``form_action``); ``NotAllowed`` (from
``selectors.ensure`` or a service) a 403 whose page says who may.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from .. import selectors
from ..errors import DomainError, NotAllowed
from ..models import (
    Incident,
    NumberedModel,
)
from .prg import refused

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


# --- Forms on a ticket's page ---------------------------------------------------------------------


def sentence(text: str) -> str:
    """A service's clause ("cancelling needs a reason") as the page shows it, capitalised."""
    return text[:1].upper() + text[1:]


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's refusal next to the field it names, or above the form.

    Services name fields as the API does (``impact_started_at``); the page says what its labels say.
    """
    message = error.message
    for name in sorted(form.fields, key=len, reverse=True):
        label = form.fields[name].label
        if "_" in name and label and name in message:
            message = message.replace(name, str(label))
    field = error.field if error.field in form.fields else None
    if field == "affected_ci":
        field = "ci_q"  # the visible half of the picker
    form.add_error(field, sentence(message))


def form_key(ticket: NumberedModel, form: str) -> str:
    """Where ``prg`` keeps a refused form of this ticket's page."""
    return f"{ticket.number}:{form}"


def form_action(
    request: HttpRequest,
    form: forms.Form,
    act: Callable[[dict[str, Any]], str | None],
    *,
    page: str,
    key: str,
    anchor: str,
    field_refusals_only: bool = False,
) -> HttpResponse:
    """Run ``act`` (one service call) for a form on ``page`` and go back to the page.

    ``act`` returns the success message, or None when there was nothing to change. A refusal is
    shown on the form (at ``anchor``), with what was typed, after the redirect (post/redirect/get,
    ``prg``). With ``field_refusals_only`` a refusal naming none of the form's fields is about the
    ticket as a whole (already resolved) and comes back as a message on the page instead.
    ``NotAllowed`` stays a 403.
    """
    if form.is_valid():
        try:
            done = act(form.cleaned_data)
        except NotAllowed:
            raise
        except DomainError as exc:
            if field_refusals_only and exc.field not in form.fields:
                messages.error(request, sentence(exc.message))
                return redirect(page)
            add_domain_error(form, exc)
        else:
            if done:
                messages.success(request, done)
            else:
                messages.info(request, "Nothing changed.")
            return redirect(page)
    return refused(request, key, form, f"{page}#{anchor}")
