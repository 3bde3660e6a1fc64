"""API of the war room: action items (under /api/major-incidents/<number>/).

Who does what by when: ``GET/POST action-items/`` (filters ``status``, ``owner``, ``overdue``),
``PATCH action-items/<id>/``; each change is a timeline row (``services.change_action_item``).
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict
from incidents.api.serializers import InputSerializer, UsernameField

from .. import selectors, services
from ..models import ActionItem, ActionStatus
from .common import (
    NUMBER,
    AwareDateTimeField,
    MajorIncidentResourceView,
    TextField,
    username_out,
)

TITLE_MAX = ActionItem._meta.get_field("title").max_length or 200


class ActionItemSerializer(serializers.ModelSerializer):
    owner = username_out()
    created_by = username_out()
    due = serializers.DateTimeField(source="due_at", allow_null=True, read_only=True)
    overdue = serializers.SerializerMethodField(
        help_text="Open or in progress, and past its due time"
    )

    class Meta:
        model = ActionItem
        ref_name = "ActionItem"
        fields = [
            "id", "title", "owner", "due", "status", "thread", "overdue",
            "created_by", "created_at", "updated_at", "done_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_overdue(self, item: ActionItem) -> bool:
        return selectors.is_overdue(item, self.context.get("now"))


_FIELDS_HELP = {
    "owner": "A username; the owner must be able to see the MI",
    "due": "An ISO 8601 date and time with its zone, or null",
    "thread": '"" (none), "command", or the slug of one of the MI\'s threads',
}


class ActionItemInputSerializer(InputSerializer):
    title = TextField(max_length=TITLE_MAX)
    owner = UsernameField(help_text=_FIELDS_HELP["owner"])
    due = AwareDateTimeField(required=False, allow_null=True, help_text=_FIELDS_HELP["due"])
    status = serializers.ChoiceField(choices=ActionStatus.choices, required=False)
    thread = TextField(
        required=False, allow_blank=True, max_length=64, help_text=_FIELDS_HELP["thread"]
    )

    class Meta:
        ref_name = "ActionItemInput"


class ActionItemChangeSerializer(ActionItemInputSerializer):
    title = TextField(max_length=TITLE_MAX, required=False)

    class Meta:
        ref_name = "ActionItemChange"

    def to_internal_value(self, data: Any) -> Any:
        values = super().to_internal_value(data)
        if not values:
            raise serializers.ValidationError(
                {"detail": ["give at least one of: " + ", ".join(self.fields)]}
            )
        return values


_CLOSED = conflict("The major incident is closed or cancelled: its war room is read-only")


class ActionItemsView(MajorIncidentResourceView):
    queryset = ActionItem.objects.all()  # the model, for the schema; rows come from selectors
    serializer_class = ActionItemSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = selectors.ActionItemFilter

    @extend_schema(parameters=[NUMBER], responses=ActionItemSerializer(many=True))
    def get(self, request: Request, number: str) -> Response:
        """The MI's action items, oldest first; each says whether it is overdue."""
        rows = self.filter_queryset(selectors.action_items(self.get_mi()))
        page = self.paginate_queryset(rows)
        context = {"now": timezone.now()}
        return self.get_paginated_response(
            ActionItemSerializer(page, many=True, context=context).data
        )

    @extend_schema(
        parameters=[NUMBER],
        request=ActionItemInputSerializer,
        responses={201: ActionItemSerializer, 409: _CLOSED},
    )
    def post(self, request: Request, number: str) -> Response:
        """Add an action item (the MI's team); written to the timeline."""
        mi = self.get_mi()
        body = ActionItemInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = services.add_action_item(mi=mi, actor=request.user, **body.validated_data)
        return _item_response(item, status.HTTP_201_CREATED)


class ActionItemView(MajorIncidentResourceView):
    queryset = ActionItem.objects.all()
    serializer_class = ActionItemSerializer
    pagination_class = None

    @extend_schema(
        parameters=[NUMBER, OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses=ActionItemSerializer,
    )
    def get(self, request: Request, number: str, item_id: int) -> Response:
        """One action item."""
        item = get_object_or_404(selectors.action_items(self.get_mi()), pk=item_id)
        return _item_response(item)

    @extend_schema(
        parameters=[NUMBER, OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        request=ActionItemChangeSerializer,
        responses={200: ActionItemSerializer, 409: _CLOSED},
    )
    def patch(self, request: Request, number: str, item_id: int) -> Response:
        """Change any of title, owner, due, status and thread (the MI's team); one timeline
        row says what changed."""
        item = get_object_or_404(selectors.action_items(self.get_mi()), pk=item_id)
        body = ActionItemChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = services.change_action_item(item=item, actor=request.user, **body.validated_data)
        return _item_response(item)


def _item_response(item: ActionItem, code: int = status.HTTP_200_OK) -> Response:
    fresh = ActionItem.objects.select_related("owner", "created_by").get(pk=item.pk)
    data = ActionItemSerializer(fresh, context={"now": timezone.now()}).data
    return Response(data, status=code)


urlpatterns: list[URLPattern] = [
    path("action-items/", ActionItemsView.as_view(), name="warroom-action-items"),
    path("action-items/<int:item_id>/", ActionItemView.as_view(), name="warroom-action-item"),
]
