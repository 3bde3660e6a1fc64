"""API of the war room: checkpoints (under /api/major-incidents/<number>/).

``GET checkpoints/``: the MI's first-hour checkpoints in order. ``PATCH checkpoints/`` with
``{"id", "done"}``: tick one by hand (or reopen it); an id that is not one of this MI's
checkpoints is a 400 naming ``id`` (it is a field of the body, not the URL's resource).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict
from incidents.api.serializers import InputSerializer
from incidents.errors import DomainError
from incidents.selectors import ensure

from .. import selectors, services
from ..models import Checkpoint, Fulfilment
from .common import MajorIncidentResourceView, username_out


class CheckpointSerializer(serializers.ModelSerializer):
    done = serializers.SerializerMethodField()
    done_by = username_out()
    automatic = serializers.BooleanField(source="done_automatically", read_only=True)
    late = serializers.SerializerMethodField()
    fulfilled_by = serializers.ChoiceField(choices=Fulfilment.choices, read_only=True)

    class Meta:
        model = Checkpoint
        fields = [
            "id",
            "name",
            "phase",
            "starts_at",
            "due_at",
            "done",
            "done_at",
            "done_by",
            "automatic",
            "late",
            "fulfilled_by",
        ]
        read_only_fields = fields
        ref_name = "WarRoomCheckpoint"

    def get_done(self, row: Checkpoint) -> bool:
        return row.done_at is not None

    def get_late(self, row: Checkpoint) -> bool:
        """Not done and past its due time."""
        now: datetime = self.context.get("now") or timezone.now()
        return row.is_late(now)


class CheckpointPatchSerializer(InputSerializer):
    id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    done = serializers.BooleanField()

    class Meta:
        ref_name = "WarRoomCheckpointPatch"


def _context() -> dict[str, Any]:
    return {"now": timezone.now()}


class CheckpointsView(MajorIncidentResourceView):
    pagination_class = None

    @extend_schema(responses={200: CheckpointSerializer(many=True)})
    def get(self, request: Request, number: str) -> Response:
        """The MI's first-hour checkpoints, by due time: done (by whom, or automatically), late."""
        rows = selectors.mi_checkpoints(self.get_mi())
        return Response(CheckpointSerializer(rows, many=True, context=_context()).data)

    @extend_schema(
        request=CheckpointPatchSerializer,
        responses={
            200: CheckpointSerializer,
            409: conflict("The major incident is closed or cancelled: its war room is read-only"),
        },
    )
    def patch(self, request: Request, number: str) -> Response:
        """Tick a checkpoint by hand (``done: true``) or reopen it (``done: false``; the MI's
        team). Ticking one already done changes nothing."""
        mi = self.get_mi()
        ensure(request.user, "post_timeline", mi)  # 403 before a word of the body is read
        body = CheckpointPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = Checkpoint.objects.filter(pk=body.validated_data["id"], major_incident=mi).first()
        if row is None:
            raise DomainError(
                f"{mi.number} has no checkpoint {body.validated_data['id']}", field="id"
            )
        row.major_incident = mi
        services.tick_checkpoint(
            checkpoint=row, actor=request.user, done=body.validated_data["done"]
        )
        fresh = selectors.mi_checkpoints(mi).get(pk=row.pk)
        return Response(CheckpointSerializer(fresh, context=_context()).data)


urlpatterns: list[URLPattern] = [
    path("checkpoints/", CheckpointsView.as_view(), name="warroom-checkpoints"),
]
