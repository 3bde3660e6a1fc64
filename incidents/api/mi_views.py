"""Major incidents and their candidates over the API.

Each operation is an explicit endpoint: an input serializer parses the body, a service in
``incidents.majors`` decides (its DomainError/Conflict/NotAllowed become 400/409/403), and the
output serializer shows the result (STYLE habit 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import selectors, services
from incidents.api.permissions import Can
from incidents.api.schema import conflict
from incidents.models import (
    Change,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    RaciActivity,
    RoleAssignment,
)

from . import filters
from .mi_serializers import (
    AcceptCandidateInputSerializer,
    CandidateSerializer,
    DeclareInputSerializer,
    MajorIncidentSerializer,
    MilestonesInputSerializer,
    RaciHoldersSerializer,
    RejectCandidateInputSerializer,
    RoleAssignmentSerializer,
    RoleInputSerializer,
    TransitionInputSerializer,
    UpdateInputSerializer,
)
from .views import NumberLookupMixin, RestrictedMixin

CAN_DECLARE = Can.of("declare")
# Every MI endpoint reads the MI first: its team may, whatever their role (guardian); the writes
# then ask for "manage" (or, in the service, "declare" to cancel).
CAN_VIEW = Can.of("view")


def major_incident_queryset() -> QuerySet[MajorIncident]:
    """Everything the MI output shows, in a fixed number of queries whatever the row count."""
    return MajorIncident.objects.select_related(
        "incident", "trigger_rule", "declared_by", "problem"
    ).prefetch_related(
        selectors.prefetch_active_roles(),
        Prefetch("incident__children", queryset=Incident.objects.only("id", "parent_id")),
        Prefetch("problem__changes", queryset=Change.objects.only("id", "problem_id")),
    )


def _mi_response(
    mi: MajorIncident, context: dict[str, Any], code: int = status.HTTP_200_OK
) -> Response:
    """The MI after a write, read again whole (its roles, children and moves changed with it)."""
    fresh = major_incident_queryset().get(pk=mi.pk)
    return Response(MajorIncidentSerializer(fresh, context=context).data, status=code)


_MI_201 = {201: MajorIncidentSerializer}
_ERRORS = {
    400: OpenApiResponse(description="Invalid input; the body says why"),
    403: OpenApiResponse(description="Not allowed"),
}


class MajorIncidentViewSet(
    RestrictedMixin,
    NumberLookupMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Major incidents: declared by ITSM managers, run by their incident commander."""

    serializer_class = MajorIncidentSerializer
    filterset_class = filters.MajorIncidentFilter
    permission_classes = [CAN_VIEW]
    search_fields = ["summary", "impact_statement", "incident__short_description"]
    ordering_fields = ["id", "declared_at", "status", "next_update_due_at"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[MajorIncident]:
        return major_incident_queryset()

    def get_permissions(self) -> Sequence[Any]:
        if self.action == "create":
            return [CAN_DECLARE()]
        return super().get_permissions()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        # Who may run which of these MIs, asked once for the page (allowed_transitions).
        context = self.get_serializer_context()
        context["manageable"] = selectors.manageable(request.user, rows)
        data = MajorIncidentSerializer(rows, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def _respond(self, mi: MajorIncident, code: int = status.HTTP_200_OK) -> Response:
        return _mi_response(mi, self.get_serializer_context(), code)

    def _managed(
        self, request: Request, body: type[serializers.Serializer]
    ) -> tuple[MajorIncident, dict[str, Any]]:
        """The URL's MI, once the user may run it ("manage"), and the body parsed by ``body``."""
        mi = self.get_object()
        selectors.ensure(request.user, "manage", mi)
        data = body(data=request.data)
        data.is_valid(raise_exception=True)
        return mi, dict(data.validated_data)

    @extend_schema(
        request=DeclareInputSerializer,
        responses={
            **_MI_201,
            **_ERRORS,
            409: conflict("The incident already has a major incident, or is no longer open"),
        },
    )
    def create(self, request: Request) -> Response:
        """Declare a major incident (ITSM manager or super admin)."""
        data = DeclareInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        mi = services.declare_major_incident(
            incident=values["incident_id"],
            manager=values["major_incident_manager"],
            actor=request.user,
            initial_impact_statement=values["initial_impact_statement"],
            bridge_link=values["bridge_link"],
            is_security=values["is_security"],
            summary=values["summary"],
        )
        return self._respond(mi, status.HTTP_201_CREATED)

    @extend_schema(
        request=UpdateInputSerializer,
        responses={
            200: MajorIncidentSerializer,
            **_ERRORS,
            409: conflict("The major incident is closed or cancelled"),
        },
    )
    def partial_update(self, request: Request, number: str) -> Response:
        """Edit what was declared: impact statement, summary, bridge link, security and media
        flags (the MI's IC or an ITSM manager); each change is a timeline row."""
        mi, values = self._managed(request, UpdateInputSerializer)
        mi = services.update_major_incident(mi=mi, actor=request.user, **values)
        return self._respond(mi)

    @extend_schema(
        request=TransitionInputSerializer,
        responses={
            200: MajorIncidentSerializer,
            **_ERRORS,
            409: conflict(
                "A move the status does not allow, resolving before the stability period, or "
                "closing before the post-incident review is published"
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, number: str) -> Response:
        mi, values = self._managed(request, TransitionInputSerializer)
        mi = services.transition_major_incident(mi=mi, actor=request.user, **values)
        return self._respond(mi)

    @extend_schema(
        request=MilestonesInputSerializer,
        responses={
            200: MajorIncidentSerializer,
            **_ERRORS,
            409: conflict("A milestone the major incident has not reached yet (e.g. closed_at)"),
        },
    )
    @action(detail=True, methods=["patch"])
    def milestones(self, request: Request, number: str) -> Response:
        mi, values = self._managed(request, MilestonesInputSerializer)
        mi = services.set_milestones(mi=mi, actor=request.user, values=values)
        return self._respond(mi)

    @extend_schema(methods=["GET"], responses=RoleAssignmentSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=RoleInputSerializer,
        responses={
            201: RoleAssignmentSerializer,
            **_ERRORS,
            409: conflict(
                "The MI is closed or cancelled, or the user holds the role this one excludes "
                "(incident commander and technical lead)"
            ),
        },
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def roles(self, request: Request, number: str) -> Response:
        """The active role holders; POST assigns one (a new IC takes over command)."""
        if request.method == "GET":
            roles = selectors.active_roles(self.get_object())
            return Response(RoleAssignmentSerializer(roles, many=True).data)
        mi, values = self._managed(request, RoleInputSerializer)
        row = services.assign_role(mi=mi, actor=request.user, **values)
        return Response(RoleAssignmentSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={204: None, **_ERRORS, 404: OpenApiResponse(description="No such holder")},
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path="roles/<int:role_id>",
        url_name="role-detail",
        filter_backends=[],
    )
    def remove_role(self, request: Request, number: str, role_id: int) -> Response:
        """End one role holder's assignment (the IC is replaced by assigning another)."""
        mi = self.get_object()
        selectors.ensure(request.user, "manage", mi)
        row = get_object_or_404(
            RoleAssignment, pk=role_id, major_incident=mi, removed_at__isnull=True
        )
        services.remove_role(assignment=row, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "activity",
                OpenApiTypes.STR,
                required=True,
                description="A RACI activity code, e.g. declare, inform_stakeholders",
            )
        ],
        responses={200: RaciHoldersSerializer, 400: _ERRORS[400]},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def raci(self, request: Request, number: str) -> Response:
        """Who is R, A, C and I for an activity on this MI (its active role holders)."""
        mi = self.get_object()
        code = request.query_params.get("activity", "")
        if not code:
            raise serializers.ValidationError({"activity": ["this query parameter is required"]})
        if "\x00" in code or not RaciActivity.objects.filter(code=code).exists():
            raise serializers.ValidationError(
                {"activity": [f"unknown activity {code.replace(chr(0), '')!r}"]}
            )
        holders = selectors.raci_holders(mi, code)
        body = {"activity": code} | {
            letter: [user.username for user in users] for letter, users in holders.items()
        }
        return Response(RaciHoldersSerializer(body).data)


class MajorIncidentCandidateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Incidents a rule in propose mode put forward, for an ITSM manager to accept or reject."""

    queryset = MajorIncidentCandidate.objects.select_related(
        "incident", "rule", "decided_by", "flagged_by"
    )
    serializer_class = CandidateSerializer
    permission_classes = [CAN_DECLARE]
    filterset_class = filters.MajorIncidentCandidateFilter
    lookup_value_converter = "int"
    search_fields = ["reason", "incident__short_description"]
    ordering_fields = ["id", "created_at", "status"]
    ordering = ["-created_at", "-id"]

    @extend_schema(
        request=AcceptCandidateInputSerializer,
        responses={
            **_MI_201,
            **_ERRORS,
            409: conflict(
                "Already accepted or rejected, or the incident already has an MI or is closed"
            ),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def accept(self, request: Request, pk: str) -> Response:
        """Declare the proposed incident a major incident; the IC defaults to the acceptor."""
        candidate = self.get_object()
        data = AcceptCandidateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        mi = services.accept_candidate(
            candidate=candidate,
            actor=request.user,
            manager=values.get("major_incident_manager"),
            bridge_link=values["bridge_link"],
            initial_impact_statement=values["initial_impact_statement"],
        )
        return _mi_response(mi, self.get_serializer_context(), status.HTTP_201_CREATED)

    @extend_schema(
        request=RejectCandidateInputSerializer,
        responses={
            200: CandidateSerializer,
            **_ERRORS,
            409: conflict("Already accepted or rejected"),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def reject(self, request: Request, pk: str) -> Response:
        """Not a major incident: the incident is never proposed again."""
        candidate = self.get_object()
        data = RejectCandidateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        candidate = services.reject_candidate(
            candidate=candidate, actor=request.user, reason=data.validated_data["reason"]
        )
        fresh = self.get_queryset().get(pk=candidate.pk)
        return Response(CandidateSerializer(fresh).data)
