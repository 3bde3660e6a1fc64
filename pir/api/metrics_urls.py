"""GET /api/metrics/: the KPIs (and their CSV) (helper: kpis)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
