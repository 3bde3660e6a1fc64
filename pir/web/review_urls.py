"""The review's pages (helper: web): the editor by section and the printable view."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
