"""The war room's pages, mounted under /war-rooms/ (config/urls.py)."""

from django.urls import path

from . import action_items, assessment, bridge, checkpoints, page, scratchpad, timeline

app_name = "warroom"

urlpatterns = [
    path("<str:number>/", page.war_room, name="page"),
    *timeline.urlpatterns,
    *assessment.urlpatterns,
    *checkpoints.urlpatterns,
    *scratchpad.urlpatterns,
    *action_items.urlpatterns,
    *bridge.urlpatterns,
]
