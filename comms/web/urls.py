"""comms' pages in the war room, under /war-rooms/<number>/ (stakeholder updates)."""

from django.urls import URLPattern, URLResolver

from . import updates

app_name = "comms"

urlpatterns: list[URLPattern | URLResolver] = [*updates.urlpatterns]
