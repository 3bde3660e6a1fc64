"""GET /api/metrics/: the KPIs (and their CSV)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
