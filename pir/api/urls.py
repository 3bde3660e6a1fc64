"""The PIR's API under /api/major-incidents/{number}/pir/: the document, publish, export.md,
comments and action items."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
