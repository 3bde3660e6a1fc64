"""API of the war room: assessment (under /api/major-incidents/<number>/).

``GET assessment/``: the current (latest) revision, when it is due, whether it is overdue, and
every revision newest first. ``PUT assessment/``: the whole assessment, saved as the next
revision (``services.revise_assessment``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict
from incidents.api.serializers import InputSerializer
from incidents.models import MajorIncident
from incidents.selectors import ensure

from .. import selectors, services
from ..models import AssessmentRevision, Level
from ..services.assessment import MAX_LENGTHS, MAX_TEXT
from .common import AwareDateTimeField, MajorIncidentResourceView, username_out

User = get_user_model()


def _text(name: str, *, required: bool = False) -> serializers.CharField:
    return serializers.CharField(
        required=required,
        allow_blank=not required,
        default=serializers.empty if required else "",
        max_length=MAX_LENGTHS.get(name, MAX_TEXT),
        trim_whitespace=True,
    )


class AssessmentInputSerializer(InputSerializer):
    """The whole assessment; scope (affected services) and impact (SLA breach risk, customer
    symptoms) are required, the rest may follow in a later revision."""

    affected_services = _text("affected_services", required=True)
    affected_customers = _text("affected_customers")
    revenue_impact_estimate = _text("revenue_impact_estimate")
    sla_breach_risk = serializers.ChoiceField(choices=Level.choices)
    customer_symptoms = _text("customer_symptoms", required=True)
    root_cause_hypothesis = _text("root_cause_hypothesis")
    root_cause_confirmed = serializers.BooleanField(required=False, default=False)
    eta = AwareDateTimeField(
        required=False, allow_null=True, default=None, help_text="ISO 8601 with its zone, or null"
    )
    eta_confidence = serializers.ChoiceField(
        choices=Level.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required with an ETA",
    )

    class Meta:
        ref_name = "WarRoomAssessmentInput"


class AssessmentRevisionSerializer(serializers.ModelSerializer):
    author = username_out()
    # Declared, not derived: a read-only model field loses allow_blank, and the schema then
    # claimed "" (not assessed yet) could not be.
    sla_breach_risk = serializers.ChoiceField(
        choices=Level.choices, allow_blank=True, read_only=True
    )
    eta_confidence = serializers.ChoiceField(
        choices=Level.choices, allow_blank=True, read_only=True
    )
    saved_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = AssessmentRevision
        fields = ["revision", "author", "saved_at", *services.ASSESSMENT_FIELDS]
        read_only_fields = fields
        ref_name = "WarRoomAssessmentRevision"


class AssessmentSerializer(serializers.Serializer):
    """The current revision's fields (null before the first one), its due time and history."""

    revision = serializers.IntegerField(allow_null=True)
    author = serializers.CharField(allow_null=True)
    saved_at = serializers.DateTimeField(allow_null=True)
    affected_services = serializers.CharField()
    affected_customers = serializers.CharField()
    revenue_impact_estimate = serializers.CharField()
    sla_breach_risk = serializers.ChoiceField(choices=Level.choices, allow_blank=True)
    customer_symptoms = serializers.CharField()
    root_cause_hypothesis = serializers.CharField()
    root_cause_confirmed = serializers.BooleanField()
    eta = serializers.DateTimeField(allow_null=True)
    eta_confidence = serializers.ChoiceField(choices=Level.choices, allow_blank=True)
    due_at = serializers.DateTimeField(help_text="Declared at + 15 minutes")
    overdue = serializers.BooleanField(help_text="No revision yet and the due time is past")
    revisions = AssessmentRevisionSerializer(many=True, help_text="Newest first")

    class Meta:
        ref_name = "WarRoomAssessment"


_EMPTY: dict[str, Any] = {
    "revision": None,
    "author": None,
    "saved_at": None,
    **dict.fromkeys(services.ASSESSMENT_FIELDS, ""),
    "root_cause_confirmed": False,
    "eta": None,
}


def assessment_data(mi: MajorIncident) -> dict[str, Any]:
    revisions = selectors.assessment_revisions(mi)
    listed = AssessmentRevisionSerializer(revisions, many=True).data
    current = dict(listed[0]) if listed else dict(_EMPTY)
    return {
        **current,
        "due_at": serializers.DateTimeField().to_representation(selectors.assessment_due_at(mi)),
        "overdue": selectors.assessment_overdue(mi, written=bool(revisions), now=timezone.now()),
        "revisions": listed,
    }


class AssessmentView(MajorIncidentResourceView):
    pagination_class = None

    @extend_schema(responses={200: AssessmentSerializer})
    def get(self, request: Request, number: str) -> Response:
        """The MI's initial assessment: the current revision, due time, overdue flag, history."""
        return Response(assessment_data(self.get_mi()))

    @extend_schema(
        request=AssessmentInputSerializer,
        responses={
            200: AssessmentSerializer,
            409: conflict("The major incident is closed or cancelled: its war room is read-only"),
        },
    )
    def put(self, request: Request, number: str) -> Response:
        """Write or revise the assessment (the MI's team): saved as the next revision, written to
        the timeline; the first one ticks the "initial assessment written" checkpoint."""
        mi = self.get_mi()
        ensure(request.user, "post_timeline", mi)  # 403 before a word of the body is read
        body = AssessmentInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.revise_assessment(mi=mi, actor=request.user, **body.validated_data)
        return Response(assessment_data(mi))


urlpatterns: list[URLPattern] = [
    path("assessment/", AssessmentView.as_view(), name="warroom-assessment"),
]
