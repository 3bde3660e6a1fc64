"""War-room page: the checkpoints panel (its partial and its forms).

``GET /war-rooms/<number>/checkpoints/`` renders the panel alone; ``POST
/war-rooms/<number>/checkpoints/<id>/`` with ``done`` (1 ticks, 0 reopens) ticks one by hand and
goes back to the page.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents import selectors as incident_selectors
from incidents.errors import DomainError, NotAllowed
from incidents.models import MajorIncident
from incidents.web.common import requires, sentence

from .. import selectors, services
from ..models import Checkpoint
from ..selectors.common import read_only
from .common import mi_or_404, page_url


class TickForm(forms.Form):
    done = forms.TypedChoiceField(
        choices=[("1", "done"), ("0", "not done")], coerce=lambda v: v == "1"
    )


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the war-room page's checkpoints panel needs (templates/warroom/_checkpoints.html)."""
    now = timezone.now()
    rows = list(selectors.mi_checkpoints(mi))
    late = {row.pk for row in rows if row.is_late(now)}
    return {
        "checkpoints": rows,
        # In the framework's order: the phases as they first fall due.
        "checkpoint_phases": [
            (phase, list(items)) for phase, items in groupby(rows, lambda r: r.phase)
        ],
        "checkpoints_late": late,  # the ids of the late ones
        "checkpoints_may_tick": not read_only(mi)
        and incident_selectors.can(request.user, "post_timeline", mi),
    }


@require_GET
@requires("view", MajorIncident)
def checkpoints(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(request, number)
    context = {"mi": mi, "now": timezone.now(), **panel(request, mi)}
    return render(request, "warroom/_checkpoints.html", context)


@require_POST
@requires("view", MajorIncident)
def checkpoint_tick(request: HttpRequest, number: str, checkpoint_id: int) -> HttpResponse:
    mi = mi_or_404(request, number)
    incident_selectors.ensure(request.user, "post_timeline", mi)  # a 403, whatever was sent
    row = Checkpoint.objects.filter(pk=checkpoint_id, major_incident=mi).first()
    if row is None:
        raise Http404(f"{mi.number} has no checkpoint {checkpoint_id}")
    row.major_incident = mi
    form = TickForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say whether the checkpoint is done (done=1) or not (done=0).")
        return redirect(page_url(mi, "checkpoints"))
    done = form.cleaned_data["done"]
    try:
        services.tick_checkpoint(checkpoint=row, actor=request.user, done=done)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, sentence(exc.message))
    else:
        messages.success(request, f"{row.name}: {'done' if done else 'reopened'}.")
    return redirect(page_url(mi, "checkpoints"))


urlpatterns: list[URLPattern] = [
    path("<str:number>/checkpoints/", checkpoints, name="checkpoints"),
    path("<str:number>/checkpoints/<int:checkpoint_id>/", checkpoint_tick, name="checkpoint_tick"),
]
