"""API of the war room: the MI's scratchpad (under /api/major-incidents/<number>/).

``PUT scratchpad/`` names the version it edited; a stale one is a 409 whose body carries the
current text and version, so the client can show both and nothing typed is lost.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict
from incidents.api.serializers import InputSerializer

from .. import selectors, services
from ..models import Scratchpad, ScratchpadVersion
from .common import NUMBER, MajorIncidentResourceView, TextField, WholeNumberField, username_out


class ScratchpadSerializer(serializers.ModelSerializer):
    updated_by = username_out()

    class Meta:
        model = Scratchpad
        ref_name = "Scratchpad"
        fields = ["text", "version", "updated_by", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {"version": {"help_text": "0 before the first save"}}


class ScratchpadInputSerializer(InputSerializer):
    text = TextField(
        allow_blank=True, trim_whitespace=False, max_length=services.MAX_SCRATCHPAD_CHARS
    )
    version = WholeNumberField(
        min_value=0, help_text="The version the text was edited from (the one GET returned)"
    )

    class Meta:
        ref_name = "ScratchpadInput"


class ScratchpadVersionSerializer(serializers.ModelSerializer):
    saved_by = username_out()
    length = serializers.IntegerField(read_only=True, help_text="Characters in the text")

    class Meta:
        model = ScratchpadVersion
        ref_name = "ScratchpadVersionSummary"
        fields = ["version", "saved_by", "saved_at", "length"]
        read_only_fields = fields


class ScratchpadVersionDetailSerializer(serializers.ModelSerializer):
    saved_by = username_out()

    class Meta:
        model = ScratchpadVersion
        ref_name = "ScratchpadVersion"
        fields = ["version", "text", "saved_by", "saved_at"]
        read_only_fields = fields


class ScratchpadView(MajorIncidentResourceView):
    serializer_class = ScratchpadSerializer
    pagination_class = None

    @extend_schema(parameters=[NUMBER], responses=ScratchpadSerializer)
    def get(self, request: Request, number: str) -> Response:
        """The MI's scratchpad: its text and the version a save must name."""
        return Response(ScratchpadSerializer(selectors.scratchpad_of(self.get_mi())).data)

    @extend_schema(
        parameters=[NUMBER],
        request=ScratchpadInputSerializer,
        responses={
            200: ScratchpadSerializer,
            # The error shape, with one more key: {"detail", "current": {"text", "version",
            # "updated_by", "updated_at"}}.
            409: conflict(
                'The version is stale (someone saved since): the body is {"detail", "current": '
                '{"text", "version", "updated_by", "updated_at"}}, the current scratchpad; or '
                "the MI is closed or cancelled"
            ),
        },
    )
    def put(self, request: Request, number: str) -> Response:
        """Save the text as the next version, if ``version`` is still the current one
        (the MI's team; each saved version is kept)."""
        mi = self.get_mi()
        body = ScratchpadInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            pad = services.save_scratchpad(mi=mi, actor=request.user, **body.validated_data)
        except services.StaleScratchpad as exc:
            data = {"detail": exc.message, "current": ScratchpadSerializer(exc.current).data}
            return Response(data, status=status.HTTP_409_CONFLICT)
        return Response(ScratchpadSerializer(pad).data)


class ScratchpadVersionsView(MajorIncidentResourceView):
    serializer_class = ScratchpadVersionSerializer

    @extend_schema(parameters=[NUMBER], responses=ScratchpadVersionSerializer(many=True))
    def get(self, request: Request, number: str) -> Response:
        """Every saved version, newest first (without their text: read one for it)."""
        page = self.paginate_queryset(selectors.scratchpad_versions(self.get_mi()))
        return self.get_paginated_response(ScratchpadVersionSerializer(page, many=True).data)


class ScratchpadVersionView(MajorIncidentResourceView):
    serializer_class = ScratchpadVersionDetailSerializer
    pagination_class = None

    @extend_schema(
        parameters=[
            NUMBER,
            OpenApiParameter("version", OpenApiTypes.INT, OpenApiParameter.PATH),
        ],
        responses={
            200: ScratchpadVersionDetailSerializer,
            404: OpenApiResponse(description="No such MI or version"),
        },
    )
    def get(self, request: Request, number: str, version: int) -> Response:
        """One saved version, its text and who saved it."""
        row = selectors.scratchpad_version(self.get_mi(), version)
        if row is None:
            raise Http404("No such version")
        return Response(ScratchpadVersionDetailSerializer(row).data)


urlpatterns: list[URLPattern] = [
    path("scratchpad/", ScratchpadView.as_view(), name="warroom-scratchpad"),
    path(
        "scratchpad/versions/",
        ScratchpadVersionsView.as_view(),
        name="warroom-scratchpad-versions",
    ),
    path(
        "scratchpad/versions/<int:version>/",
        ScratchpadVersionView.as_view(),
        name="warroom-scratchpad-version",
    ),
]
