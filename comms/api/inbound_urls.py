"""Monitoring webhooks in, mounted at /api/inbound/ (DESIGN "Inbound channels")."""

from django.urls import URLPattern, URLResolver

app_name = "inbound"

urlpatterns: list[URLPattern | URLResolver] = []
