"""War-room page: the "Upstream providers" panel, what each SaaS provider the MI depends on says
on its own status page (read by ``comms.tasks.watch_upstream_status``). Read-only; all of it is
third-party text, which the template escapes like any other."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from incidents.models import MajorIncident

from ..selectors import upstream as upstream_selectors

TEMPLATE = "comms/_upstream.html"


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    return {"upstream_providers": upstream_selectors.providers_of(mi)}
