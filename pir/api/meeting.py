"""The review meeting's API under /api/major-incidents/<number>/pir/.

- ``GET pir/meeting/``: the meeting (time, length, bridge, UID, SEQUENCE, who is invited, the
  reminders sent, the publish deadline), for whoever may read the review;
- ``POST pir/meeting/`` ``{"meeting_at": ISO 8601 with zone, "minutes": int}``: move it (the IC,
  ITSM managers, super admins): updated invitations with the same UID and SEQUENCE + 1;
- ``GET pir/meeting.ics``: the current invitation (or cancellation) as ``text/calendar``.

Reading needs ``view`` on the MI (the base view, 401/403/404 as everywhere); moving asks the run
right (``pir.selectors.access``) before the body is read. An MI without a review yet (not resolved)
is a 404 on the reads and a 409 on the move.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict
from incidents.api.serializers import InputSerializer
from incidents.errors import Conflict
from incidents.models import MajorIncident
from warroom.api.common import (
    NUMBER,
    AwareDateTimeField,
    MajorIncidentResourceView,
    WholeNumberField,
)

from ..models import PostIncidentReview
from ..selectors import access, review_of
from ..selectors import calendar as cal
from ..services import scheduling


class InviteeSerializer(serializers.Serializer):
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    role = serializers.CharField(
        read_only=True, help_text="iCalendar ROLE: CHAIR (the IC) or REQ-PARTICIPANT"
    )

    class Meta:
        ref_name = "ReviewMeetingInvitee"


class MeetingSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["scheduled", "cancelled", "unscheduled"], read_only=True
    )
    meeting_at = serializers.DateTimeField(read_only=True, allow_null=True)
    ends_at = serializers.DateTimeField(read_only=True, allow_null=True)
    minutes = serializers.IntegerField(read_only=True)
    location = serializers.CharField(read_only=True, help_text="The MI's bridge link")
    uid = serializers.CharField(read_only=True, help_text="iCalendar UID, the same in every update")
    sequence = serializers.IntegerField(
        read_only=True, help_text="iCalendar SEQUENCE, raised by every move and the cancellation"
    )
    cancelled_at = serializers.DateTimeField(read_only=True, allow_null=True)
    reminded_24h_for = serializers.DateTimeField(read_only=True, allow_null=True)
    reminded_1h_for = serializers.DateTimeField(read_only=True, allow_null=True)
    publish_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    overdue_flagged_at = serializers.DateTimeField(read_only=True, allow_null=True)
    invitees = InviteeSerializer(many=True, read_only=True)
    ics_url = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "ReviewMeeting"


class MeetingInputSerializer(InputSerializer):
    meeting_at = AwareDateTimeField(help_text="The new start, with its zone; not in the past")
    minutes = WholeNumberField(
        required=False,
        min_value=scheduling.MIN_MINUTES,
        max_value=scheduling.MAX_MINUTES,
        help_text="Length in minutes (kept when left out)",
    )

    class Meta:
        ref_name = "ReviewMeetingInput"


def meeting_data(review: PostIncidentReview, request: Request) -> dict[str, Any]:
    mi = review.major_incident
    if review.meeting_at is None:
        state = "unscheduled"
    elif review.meeting_cancelled_at is not None:
        state = "cancelled"
    else:
        state = "scheduled"
    return {
        "status": state,
        "meeting_at": review.meeting_at,
        "ends_at": cal.meeting_end(review),
        "minutes": review.meeting_minutes,
        "location": review.meeting_location,
        "uid": review.ical_uid,
        "sequence": review.meeting_sequence,
        "cancelled_at": review.meeting_cancelled_at,
        "reminded_24h_for": review.reminded_24h_for,
        "reminded_1h_for": review.reminded_1h_for,
        "publish_due_at": review.publish_due_at,
        "overdue_flagged_at": review.overdue_flagged_at,
        "invitees": [vars(person) for person in cal.invitees(mi)],
        "ics_url": request.build_absolute_uri(reverse("pir-meeting-ics", args=[mi.number])),
    }


class _ReviewView(MajorIncidentResourceView):
    pagination_class = None

    def get_review(self, mi: MajorIncident) -> PostIncidentReview:
        review = review_of(mi)
        if review is None:
            raise Http404("No review yet: the review is made when the MI is resolved")
        return review


class MeetingView(_ReviewView):
    serializer_class = MeetingSerializer

    @extend_schema(parameters=[NUMBER], responses=MeetingSerializer)
    def get(self, request: Request, number: str) -> Response:
        """The review meeting: when, where, who is invited, the reminders sent."""
        return Response(
            MeetingSerializer(meeting_data(self.get_review(self.get_mi()), request)).data
        )

    @extend_schema(
        parameters=[NUMBER],
        request=MeetingInputSerializer,
        responses={
            200: MeetingSerializer,
            409: conflict("The review is published, or the MI is not resolved (no meeting)"),
        },
    )
    def post(self, request: Request, number: str) -> Response:
        """Move the meeting: everyone invited gets the updated invitation (METHOD:REQUEST, the
        same UID, SEQUENCE + 1), and the reminders are due again for the new time. The IC,
        ITSM managers and super admins."""
        mi = self.get_mi()
        access.ensure_run(request.user, mi)  # 403 before a word of the body is read
        body = MeetingInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = review_of(mi)
        if review is None:
            raise Conflict(
                f"{mi.number} is {mi.status}: its review and meeting exist once it is resolved",
                field="meeting_at",
            )
        review = scheduling.reschedule_meeting(
            review=review,
            actor=request.user,
            meeting_at=body.validated_data["meeting_at"],
            minutes=body.validated_data.get("minutes"),
        )
        return Response(MeetingSerializer(meeting_data(review_of(mi) or review, request)).data)


class MeetingIcsView(_ReviewView):
    @extend_schema(
        parameters=[NUMBER],
        responses={
            (200, "text/calendar"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The current invitation (METHOD:REQUEST) or, for a cancelled "
                "meeting, the cancellation (METHOD:CANCEL)",
            )
        },
    )
    def get(self, request: Request, number: str) -> HttpResponse:
        """The meeting as an iCalendar file, to add to a calendar by hand."""
        mi = self.get_mi()
        review = self.get_review(mi)
        if review.meeting_at is None:
            raise Http404("The review has no meeting yet")
        method = cal.CANCEL if review.meeting_cancelled_at is not None else cal.REQUEST
        response = HttpResponse(
            cal.ics(review, method=method),
            content_type=f"text/calendar; method={method}; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{mi.number}-review.ics"'
        return response
