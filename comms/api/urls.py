"""comms' API under /api/major-incidents/<number>/ (updates, drafts, canned responses)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
