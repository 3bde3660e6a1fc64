"""GET /api/metrics/: the KPIs (and their CSV)."""

from django.urls import URLPattern, URLResolver, path

from .metrics import MetricsCsvView, MetricsView

urlpatterns: list[URLPattern | URLResolver] = [
    path("", MetricsView.as_view(), name="metrics"),
    path("export.csv", MetricsCsvView.as_view(), name="metrics-csv"),
]
