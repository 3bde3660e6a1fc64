"""The review meeting's API (helper: scheduling): reschedule, the .ics."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
