"""API of the war room: scratchpad (under /api/major-incidents/<number>/)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
