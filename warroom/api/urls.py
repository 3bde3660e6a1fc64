"""The war room's API, mounted under /api/major-incidents/<str:number>/ (config/urls.py)."""

from . import action_items, assessment, bridge, checkpoints, scratchpad, timeline

urlpatterns = [
    *timeline.urlpatterns,
    *assessment.urlpatterns,
    *checkpoints.urlpatterns,
    *scratchpad.urlpatterns,
    *action_items.urlpatterns,
    *bridge.urlpatterns,
]
