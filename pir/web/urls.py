"""The PIR's pages under /war-rooms/{number}/pir/: the editor by section and the printable view."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
