"""The PIR's API under /api/major-incidents/{number}/pir/: one URL module per area."""

from django.urls import include, path

urlpatterns = [
    path("", include("pir.api.review_urls")),
    path("", include("pir.api.meeting_urls")),
    path("", include("pir.api.action_urls")),
]
