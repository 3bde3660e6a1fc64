"""The meeting form of the editor page: ``pir:meeting`` (POST: move it)."""

from django.urls import URLPattern, URLResolver, path

from . import meeting

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:number>/pir/meeting/", meeting.reschedule, name="meeting"),
]
