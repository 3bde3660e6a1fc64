"""The war-room page: /war-rooms/<number>/, the MI's live home.

The shell and its header are here; each panel (timeline, assessment, checkpoints, scratchpad,
action items, bridge) is its own module in this package, whose ``panel(request, mi)`` gives the
context of its partial (``templates/warroom/_<area>.html``). The MI's own part (moves, roles,
what was declared, milestones) is the incidents app's, rendered from the same context the old MI
page had (``incidents.web.majors.mi_page_context``), so both say and refuse the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from incidents import selectors
from incidents.models import MajorIncident, MIStatus
from incidents.web.common import requires
from incidents.web.majors import mi_or_404, mi_page_context

from . import action_items, assessment, bridge, checkpoints, scratchpad, timeline

# In the order the page includes them; each one's keys carry its area as prefix.
PANELS = (timeline, assessment, checkpoints, scratchpad, action_items, bridge)


@dataclass(frozen=True)
class ExtraPanel:
    """A panel a higher app adds to the page (comms' stakeholder updates): the war room cannot
    import its apps, so they register here from their ``AppConfig.ready``."""

    slot: str  # "main" (under the timeline) or "side" (with the work lists)
    area: str  # the panel's id on the page: ``wr-<area>``
    template: str
    context: Callable[[HttpRequest, MajorIncident], dict[str, Any]]


EXTRA_PANELS: list[ExtraPanel] = []


def register_panel(panel: ExtraPanel) -> None:
    if all(p.area != panel.area for p in EXTRA_PANELS):
        EXTRA_PANELS.append(panel)


def span(delta: timedelta) -> str:
    """A duration as the header says it: "45 s", "12 min", "2 h 05 min", "3 d 4 h".

    ``static/js/warroom.js`` says it the same way as it ticks; keep the two alike.
    """
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _ended_at(mi: MajorIncident) -> datetime | None:
    """When the clock of a finished MI stopped: resolved, else closed (a cancel: closed_at)."""
    if mi.is_open:
        return None
    return mi.resolved_at or mi.closed_at or mi.updated_at


def header_context(mi: MajorIncident, now: datetime, drawn: str = "") -> dict[str, Any]:
    """The header's clocks, as first rendered (the page's script keeps them ticking).

    ``drawn``: the status the page's moves were drawn for (the live header's poll says it back).
    """
    ended = _ended_at(mi)
    due = mi.next_update_due_at if mi.is_open else None
    return {
        "header_drawn_status": drawn if drawn in MIStatus.values else mi.status,
        "header_ended_at": ended,
        "header_elapsed": span((ended or now) - mi.declared_at),
        "header_update_due": due,
        "header_update_overdue": due is not None and due <= now,
        "header_update_in": span(abs(due - now)) if due is not None else "",
    }


@require_GET
@requires("view", MajorIncident)
def war_room(request: HttpRequest, number: str) -> HttpResponse:
    # Looked up and refused as the old MI page and the API's GET /api/major-incidents/<n>/ are:
    # a 404 for no such MI, a 403 saying who may for one this user may not see.
    mi = mi_or_404(number, request)
    now = timezone.now()
    if request.htmx and request.GET.get("part") == "header":  # type: ignore[attr-defined]
        response = _live_header(request, mi, now)
    else:
        context: dict[str, Any] = {"now": now}
        context.update(mi_page_context(request, mi))
        context.update(header_context(mi, now))
        for area in PANELS:
            context.update(area.panel(request, mi))
        for extra in EXTRA_PANELS:
            context.update(extra.context(request, mi))
        context["extra_main_panels"] = [p for p in EXTRA_PANELS if p.slot == "main"]
        context["extra_side_panels"] = [p for p in EXTRA_PANELS if p.slot == "side"]
        response = render(request, "warroom/page.html", context)
    # One URL, two answers (the page, the header's poll): caches must tell them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response


def _live_header(request: HttpRequest, mi: MajorIncident, now: datetime) -> HttpResponse:
    """The header's live part only: what its poll swaps in (templates/warroom/_header_live.html)."""
    context: dict[str, Any] = {
        "mi": mi,
        "incident": mi.incident,
        "commander": selectors.current_commander(mi),
        **header_context(mi, now, drawn=request.GET.get("drawn", "")),
    }
    return render(request, "warroom/_header_live.html", context)
