"""What the scratchpad, action-item and bridge panels share: the MI by number (403/404 as on
the MI page), the war-room page to go back to, and each panel as a fragment of its own.

Each panel's GET (``/war-rooms/<n>/scratchpad/``…) renders its partial alone: what htmx swaps
in to refresh one panel, and what the page includes whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from incidents import selectors
from incidents.models import MajorIncident

from ..selectors.common import read_only


def mi_or_404(request: HttpRequest, number: str) -> MajorIncident:
    """The MI by number: 404 if there is none, ``NotAllowed`` (a 403 saying who may) if the
    user may not see it. Call it inside ``requires("view", MajorIncident)``."""
    mi = MajorIncident.objects.by_number(number).select_related("incident").first()
    if mi is None:
        raise Http404(f"No major incident {number}")
    selectors.ensure(request.user, "view", mi)
    return mi


def may(request: HttpRequest, action: str, mi: MajorIncident) -> bool:
    """Whether the panel offers its forms: the user may, and the MI is not finished."""
    return not read_only(mi) and selectors.can(request.user, action, mi)


def page_url(mi: MajorIncident, anchor: str = "") -> str:
    url = reverse("warroom:page", kwargs={"number": mi.number})
    return f"{url}#{anchor}" if anchor else url


def form_key(mi: MajorIncident, form: str) -> str:
    """Where ``incidents.web.prg`` keeps a refused form of the war room's page."""
    return f"{mi.number}:warroom:{form}"


def render_panel(
    request: HttpRequest,
    mi: MajorIncident,
    template: str,
    panel: Callable[[HttpRequest, MajorIncident], dict[str, Any]],
) -> HttpResponse:
    """One panel alone, with the context the war-room page gives it."""
    context = {"mi": mi, "user": request.user, "now": timezone.now(), **panel(request, mi)}
    return render(request, template, context)
