"""The meeting form of the editor page (helper: scheduling)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
