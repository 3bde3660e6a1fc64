from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db.models import Prefetch
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import selectors, services
from incidents.api.permissions import Can
from incidents.api.schema import conflict
from incidents.errors import DomainError
from incidents.models import (
    Change,
    ConfigurationItem,
    Incident,
    MajorIncidentCandidate,
    NumberedModel,
    Problem,
    SystemProperty,
    TimelineEntry,
)
from incidents.properties import REGISTRY
from incidents.selectors import cmdb
from incidents.services import tokens

from . import filters
from .mi_serializers import CandidateSerializer
from .serializers import (
    ChangeSerializer,
    ConfigurationItemSerializer,
    FlagMajorInputSerializer,
    ImpactQuerySerializer,
    ImpactSerializer,
    IncidentSerializer,
    LinkSerializer,
    ProblemSerializer,
    ResolveSerializer,
    SystemPropertySerializer,
    SystemPropertyUpdateSerializer,
    TimelineEntrySerializer,
)
from .serializers import InputSerializer as BodySerializer
from .throttles import TokenAddressThrottle, TokenUserThrottle

CAN_CHANGE = Can.of("change")


class CanReadTimeline(Can):
    """An incident's timeline needs ``view`` on timeline entries, not on the incident itself:
    legal reads timelines (the audit trail) without reading incidents (README's table)."""

    action = "view"
    model = TimelineEntry

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return True  # decided on the model above; the incident is only the timeline's address


class RestrictedMixin:
    """A list shows the rows the user may read (``selectors.restrict``, as NetBox's base viewset).

    One row is looked up whole, so that a refusal is a 403 saying who may rather than a 404.
    """

    def filter_queryset(self, queryset: Any) -> Any:
        queryset = super().filter_queryset(queryset)  # type: ignore[misc]
        if getattr(self, "detail", False):
            return queryset
        return selectors.restrict(queryset, self.request.user, "view")  # type: ignore[attr-defined]


class NumberLookupMixin:
    """Tickets are addressed by number (``/api/incidents/INC0000042/``); a bad number is a 404."""

    lookup_field = "number"
    # Match any path segment, so that a malformed number reaches get_object() and gets the API's
    # JSON 404 rather than Django's HTML page for an unknown URL.
    lookup_value_converter = "str"

    def get_object(self) -> Any:
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        model: type[NumberedModel] = queryset.model
        obj = get_object_or_404(queryset, pk=model.pk_from_number(self.kwargs["number"]) or 0)  # type: ignore[attr-defined]
        self.check_object_permissions(self.request, obj)  # type: ignore[attr-defined]
        return obj


_STATE_REFUSES = conflict("The incident's state (e.g. already resolved) refuses this")


@extend_schema_view(
    partial_update=extend_schema(
        responses={
            200: IncidentSerializer,
            409: conflict("The incident's state refuses the move to the given state"),
        }
    )
)
class IncidentViewSet(
    RestrictedMixin,
    NumberLookupMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents: technicians create, acknowledge, update, resolve and link them."""

    queryset = Incident.objects.select_related(
        "caller",
        "assigned_to",
        "affected_ci",
        "major_incident",
        "mi_candidate__rule",
        "mi_candidate__flagged_by",
        "mi_candidate__decided_by",
    )
    serializer_class = IncidentSerializer
    filterset_class = filters.IncidentFilter
    search_fields = ["short_description", "description"]
    ordering_fields = ["id", "created_at", "updated_at", "priority", "state", "affected_users"]
    ordering = ["-id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _respond(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=incident.pk)
        return Response(
            IncidentSerializer(fresh, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(request=None, responses={200: IncidentSerializer, 409: _STATE_REFUSES})
    @action(detail=True, methods=["post"], permission_classes=[CAN_CHANGE])
    def acknowledge(self, request: Request, number: str) -> Response:
        incident = services.acknowledge_incident(incident=self.get_object(), actor=request.user)
        return self._respond(incident)

    @extend_schema(
        request=ResolveSerializer, responses={200: IncidentSerializer, 409: _STATE_REFUSES}
    )
    @action(detail=True, methods=["post"], permission_classes=[CAN_CHANGE])
    def resolve(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = services.resolve_incident(
            incident=incident, actor=request.user, **data.validated_data
        )
        return self._respond(incident)

    @extend_schema(
        request=LinkSerializer,
        responses={
            200: IncidentSerializer,
            409: conflict(
                "The parent is itself a child or cancelled, or the incident has children"
            ),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[CAN_CHANGE])
    def link(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        data = LinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = services.link_incident(
            incident=incident, parent=data.validated_data["parent"], actor=request.user
        )
        return self._respond(incident)

    @extend_schema(
        request=FlagMajorInputSerializer,
        responses={
            201: CandidateSerializer,
            409: conflict(
                "The incident is an MI already, waits in the queue, was rejected before (who "
                "and why), or is no longer open"
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="flag-major",
        url_name="flag-major",
        permission_classes=[CAN_CHANGE],
    )
    def flag_major(self, request: Request, number: str) -> Response:
        """Flag the incident as a potential major incident: a candidate in the manager's queue."""
        incident = self.get_object()
        data = FlagMajorInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        candidate = services.flag_major_incident(
            incident=incident, actor=request.user, reason=data.validated_data["reason"]
        )
        fresh = MajorIncidentCandidate.objects.select_related(
            "incident", "rule", "decided_by", "flagged_by"
        ).get(pk=candidate.pk)
        return Response(CandidateSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        permission_classes=[CanReadTimeline],
    )
    def timeline(self, request: Request, number: str) -> Response:
        """The incident's timeline, oldest first, paginated like every list."""
        incident = self.get_object()
        entries = incident.timeline.select_related("actor").order_by("created_at", "id")
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)


class ConfigurationItemViewSet(RestrictedMixin, viewsets.ModelViewSet):
    """The CMDB. Reading needs view permission; writing needs an ITSM manager or super admin."""

    # Only the provider ids are needed to render ``depends_on``.
    queryset = ConfigurationItem.objects.prefetch_related(
        Prefetch("depends_on", queryset=ConfigurationItem.objects.only("id"))
    )
    serializer_class = ConfigurationItemSerializer
    lookup_value_converter = "int"  # anything else falls through to the API's JSON 404
    filterset_class = filters.ConfigurationItemFilter
    search_fields = ["name", "description", "owner_group"]
    ordering_fields = ["id", "name", "kind", "user_count", "criticality"]
    ordering = ["name"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def perform_destroy(self, instance: ConfigurationItem) -> None:
        services.delete_configuration_item(ci=instance, actor=self.request.user)

    @extend_schema(parameters=[ImpactQuerySerializer], responses=ImpactSerializer)
    @action(detail=True, methods=["get"])
    def impact(self, request: Request, pk: str) -> Response:
        ci = self.get_object()
        query = ImpactQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        impact = cmdb.impact(ci.pk, limit=query.validated_data.get("limit"))
        return Response(ImpactSerializer(impact).data)


class ProblemViewSet(RestrictedMixin, NumberLookupMixin, viewsets.ModelViewSet):
    queryset = Problem.objects.select_related("assigned_to", "created_by")
    serializer_class = ProblemSerializer
    filterset_class = filters.ProblemFilter
    search_fields = ["short_description", "description", "root_cause"]
    ordering_fields = ["id", "created_at", "state"]
    ordering = ["-id"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


class ChangeViewSet(RestrictedMixin, NumberLookupMixin, viewsets.ModelViewSet):
    queryset = Change.objects.select_related("implementer", "created_by")
    serializer_class = ChangeSerializer
    filterset_class = filters.ChangeFilter
    search_fields = ["short_description", "description"]
    ordering_fields = ["id", "created_at", "planned_start", "state"]
    ordering = ["-id"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


class SystemPropertyViewSet(
    RestrictedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Tunable thresholds. Reading needs view permission; changing them is for super admins."""

    queryset = SystemProperty.objects.select_related("updated_by")
    serializer_class = SystemPropertySerializer
    lookup_field = "key"
    lookup_value_converter = "str"  # an unknown key is the API's JSON 404, as for numbers
    filter_backends: list[Any] = []
    pagination_class = None

    def get_object(self) -> SystemProperty:
        # The set of properties is fixed by the code: any other key (a NUL byte included, which
        # PostgreSQL would refuse with an error) is a 404 without asking the database.
        if self.kwargs[self.lookup_field] not in REGISTRY:
            raise Http404
        return super().get_object()

    @extend_schema(request=SystemPropertyUpdateSerializer, responses=SystemPropertySerializer)
    def partial_update(self, request: Request, key: str) -> Response:
        prop = self.get_object()
        data = SystemPropertyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        prop = services.set_property(
            key=prop.key, value=data.validated_data["value"], actor=request.user
        )
        return Response(SystemPropertySerializer(self.get_queryset().get(pk=prop.pk)).data)


_TOKEN_PAIR = inline_serializer(
    "TokenPair",
    {
        "access": serializers.CharField(),
        "refresh": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
    },
)


class TokenView(APIView):
    """Base of the token endpoints: no authentication, and a refusal is a 401, never a 403."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # With no authentication classes DRF would turn AuthenticationFailed into a 403;
        # bad credentials are a 401 with a challenge (DESIGN, "Authentication and permission").
        return 'Bearer realm="api"'

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if settings.JWT_JWKS_URL:
            # The API then accepts only the IdP's RS256 tokens; ours (HS256) would be refused.
            raise DomainError(
                "tokens are issued by the identity provider (JWT_JWKS_URL is set), not here"
            )


class TokenObtainView(TokenView):
    """Exchange a username and password for an access token and a refresh token."""

    throttle_classes = [TokenAddressThrottle, TokenUserThrottle]

    class InputSerializer(BodySerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=1024, trim_whitespace=False)

        class Meta:
            ref_name = "TokenObtainInput"

    @extend_schema(
        request=InputSerializer,
        responses={
            200: _TOKEN_PAIR,
            401: OpenApiResponse(description="Bad credentials"),
            429: OpenApiResponse(
                description="Too many attempts for this username or from this address;"
                " the Retry-After header says after how many seconds to try again"
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request._request, **data.validated_data)
        if user is None or not user.is_active:
            raise AuthenticationFailed("username or password is wrong")
        return Response(_token_pair(user))


class TokenRefreshView(TokenView):
    """Exchange a refresh token for a new access token carrying the user's current roles."""

    class InputSerializer(BodySerializer):
        refresh = serializers.CharField(max_length=4096)

        class Meta:
            ref_name = "TokenRefreshInput"

    @extend_schema(
        request=InputSerializer,
        responses={200: _TOKEN_PAIR, 401: OpenApiResponse(description="Bad refresh token")},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            claims = tokens.decode(data.validated_data["refresh"], expected_type=tokens.REFRESH)
        except tokens.InvalidToken as exc:
            raise AuthenticationFailed(str(exc)) from None
        if claims.get("token_type") != tokens.REFRESH:
            raise AuthenticationFailed("a refresh token is required")
        username = claims[settings.JWT_USERNAME_CLAIM]
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise AuthenticationFailed("user is unknown or inactive")
        return Response(_token_pair(user))


def _token_pair(user: Any) -> dict[str, Any]:
    return {
        "access": tokens.issue(user),
        "refresh": tokens.issue(user, token_type=tokens.REFRESH),
        "token_type": "Bearer",
        "expires_in": int(settings.JWT_ACCESS_TOKEN_LIFETIME.total_seconds()),
    }


@csrf_exempt
def not_found(request: Any) -> JsonResponse:
    # Exempt from CSRF: it reads nothing and changes nothing, and a POST here with a bearer token
    # must get the API's JSON 404, not Django's HTML "CSRF verification failed" page.
    return JsonResponse({"detail": "Not found."}, status=404)
