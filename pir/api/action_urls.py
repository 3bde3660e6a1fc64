"""Action items into work (helper: actions): problem task, change, Jira issue."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
