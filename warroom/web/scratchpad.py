"""War-room page: the scratchpad panel (its partial and its forms)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern

from incidents.models import MajorIncident

urlpatterns: list[URLPattern] = []


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the war-room page's scratchpad panel needs (templates/warroom/_scratchpad.html)."""
    return {}
