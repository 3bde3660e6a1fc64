"""The review meeting's API: the meeting, moving it, the .ics."""

from django.urls import URLPattern, URLResolver, path

from . import meeting

urlpatterns: list[URLPattern | URLResolver] = [
    path("pir/meeting/", meeting.MeetingView.as_view(), name="pir-meeting"),
    path("pir/meeting.ics", meeting.MeetingIcsView.as_view(), name="pir-meeting-ics"),
]
