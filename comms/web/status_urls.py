"""The public status page, mounted at /status/ (no login)."""

from django.urls import URLPattern, URLResolver

app_name = "status"

urlpatterns: list[URLPattern | URLResolver] = []
