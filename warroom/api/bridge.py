"""API of the war room: the bridge's attendees (under /api/major-incidents/<number>/).

``GET bridge/attendees/``: who is on now and every stay; ``POST`` with ``{"user", "action":
"join"|"leave"}`` records one joining (201) or leaving (200), each a timeline row.
"""

from __future__ import annotations

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict
from incidents.api.serializers import InputSerializer, UsernameField

from .. import selectors, services
from ..models import BridgeAttendance
from .common import NUMBER, MajorIncidentResourceView, username_out


class AttendanceSerializer(serializers.ModelSerializer):
    user = username_out()
    recorded_by = username_out()
    on_bridge = serializers.SerializerMethodField(help_text="Joined and not left yet")

    class Meta:
        model = BridgeAttendance
        ref_name = "BridgeAttendance"
        fields = ["id", "user", "joined_at", "left_at", "on_bridge", "recorded_by"]
        read_only_fields = fields

    def get_on_bridge(self, stay: BridgeAttendance) -> bool:
        return stay.left_at is None


class AttendeesSerializer(serializers.Serializer):
    bridge_link = serializers.CharField(allow_null=True)
    bridge_dial_in = serializers.CharField(allow_null=True)
    on_now = AttendanceSerializer(many=True, help_text="Who is on the bridge now, longest first")
    history = AttendanceSerializer(many=True, help_text="Every stay, newest first")

    class Meta:
        ref_name = "BridgeAttendees"


class AttendanceInputSerializer(InputSerializer):
    user = UsernameField(required=True, allow_null=False, help_text="Who joined or left")
    action = serializers.ChoiceField(choices=[("join", "join"), ("leave", "leave")])

    class Meta:
        ref_name = "BridgeAttendanceInput"


class AttendeesView(MajorIncidentResourceView):
    queryset = BridgeAttendance.objects.all()  # the model, for the schema
    serializer_class = AttendanceSerializer
    pagination_class = None  # a bridge's stays are a short list: whole, like roles/

    @extend_schema(parameters=[NUMBER], responses=AttendeesSerializer)
    def get(self, request: Request, number: str) -> Response:
        """The bridge (link, dial-in), who is on it now, and every stay so far."""
        mi = self.get_mi()
        body = {
            "bridge_link": mi.bridge_link or None,
            "bridge_dial_in": mi.bridge_dial_in or None,
            "on_now": list(selectors.on_bridge_now(mi)),
            "history": list(selectors.bridge_attendances(mi)),
        }
        return Response(AttendeesSerializer(body).data)

    @extend_schema(
        parameters=[NUMBER],
        request=AttendanceInputSerializer,
        responses={
            200: AttendanceSerializer,
            201: AttendanceSerializer,
            409: conflict(
                "Joining while on the bridge, leaving while not on it, or the major incident "
                "is closed or cancelled"
            ),
        },
    )
    def post(self, request: Request, number: str) -> Response:
        """Record someone joining (201) or leaving (200) the bridge (the MI's team, for
        themselves or anyone who may see the MI); written to the timeline."""
        mi = self.get_mi()
        body = AttendanceInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, action = body.validated_data["user"], body.validated_data["action"]
        code: int
        if action == "join":
            stay = services.join_bridge(mi=mi, actor=request.user, user=user)
            code = status.HTTP_201_CREATED
        else:
            stay = services.leave_bridge(mi=mi, actor=request.user, user=user)
            code = status.HTTP_200_OK
        fresh = BridgeAttendance.objects.select_related("user", "recorded_by").get(pk=stay.pk)
        return Response(AttendanceSerializer(fresh).data, status=code)


urlpatterns: list[URLPattern] = [
    path("bridge/attendees/", AttendeesView.as_view(), name="warroom-bridge-attendees"),
]
