"""Converting an action item from the editor page (helper: actions)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
