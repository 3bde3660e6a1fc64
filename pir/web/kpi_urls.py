"""The KPI dashboard under /kpis/ (namespace ``kpis``)."""

from django.urls import URLPattern, URLResolver, path

from .kpis import dashboard

app_name = "kpis"

urlpatterns: list[URLPattern | URLResolver] = [path("", dashboard, name="dashboard")]
