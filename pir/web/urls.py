"""The PIR's pages under /war-rooms/{number}/pir/ (namespace ``pir``): one URL module per area.

URL names the areas share: ``pir:review`` (the editor, ``<number>/pir/``), ``pir:print``,
``pir:meeting`` (POST: reschedule), ``pir:convert-action`` (POST, ``<number>``, ``<item_id>``).
"""

from django.urls import include, path

app_name = "pir"

urlpatterns = [
    path("", include("pir.web.review_urls")),
    path("", include("pir.web.meeting_urls")),
    path("", include("pir.web.action_urls")),
]
