"""The review document's API (helper: document): pir/, submit, publish, export.md, comments,
action items, draft."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
