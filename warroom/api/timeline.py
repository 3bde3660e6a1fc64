"""API of the war room: timeline (under /api/major-incidents/<number>/)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
