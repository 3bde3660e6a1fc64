"""``/api/scheduled-maintenances/``: the status page's maintenance windows for REST clients.

- ``GET`` (list, newest window first) and ``POST`` (announce one, status ``scheduled``);
- ``GET/PATCH {id}/``: change its fields, or move its status (``scheduled`` → ``in_progress`` →
  ``verifying`` → ``completed``) with an optional public ``message``; a move the table refuses
  is a 409 naming ``status``.

ITSM managers and super admins (the model permissions the comms migration 0005 grants, asked
through ``can`` by the default permission class and again by the service); technicians 403, no
token 401. Every write is one call of ``comms.services.maintenance``, as in the admin.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict

from ..models import MaintenanceUpdate, ScheduledMaintenance
from ..services import maintenance as services
from .maintenance_serializers import (
    MaintenanceChangeSerializer,
    MaintenanceCreateSerializer,
    MaintenanceSerializer,
)

_MOVE = conflict("The status move is not allowed from the current status, or it is completed")


def _rows() -> QuerySet[ScheduledMaintenance]:
    return (
        ScheduledMaintenance.objects.select_related("created_by")
        .prefetch_related(
            "components",
            Prefetch("updates", MaintenanceUpdate.objects.order_by("-created_at", "-id")),
        )
        .order_by("-scheduled_for", "-id")
    )


def _one(pk: int, code: int = status.HTTP_200_OK) -> Response:
    return Response(MaintenanceSerializer(_rows().get(pk=pk)).data, status=code)


class MaintenancesView(GenericAPIView):
    queryset = ScheduledMaintenance.objects.all()
    serializer_class = MaintenanceSerializer
    filter_backends: list[Any] = []

    @extend_schema(responses=MaintenanceSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Every maintenance window, newest first, with its public updates."""
        page = self.paginate_queryset(_rows())
        return self.get_paginated_response(MaintenanceSerializer(page, many=True).data)

    @extend_schema(request=MaintenanceCreateSerializer, responses={201: MaintenanceSerializer})
    def post(self, request: Request) -> Response:
        """Announce a maintenance window on some components (business services)."""
        body = MaintenanceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = services.create_maintenance(actor=request.user, **body.validated_data)
        return _one(created.pk, status.HTTP_201_CREATED)


class MaintenanceView(GenericAPIView):
    queryset = ScheduledMaintenance.objects.all()
    serializer_class = MaintenanceSerializer
    filter_backends: list[Any] = []

    @extend_schema(responses=MaintenanceSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return _one(get_object_or_404(ScheduledMaintenance, pk=pk).pk)

    @extend_schema(
        request=MaintenanceChangeSerializer, responses={200: MaintenanceSerializer, 409: _MOVE}
    )
    def patch(self, request: Request, pk: int) -> Response:
        """Change the window's fields and/or move its status, with an optional public message."""
        window = get_object_or_404(ScheduledMaintenance, pk=pk)
        body = MaintenanceChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.change_maintenance(maintenance=window, actor=request.user, **body.validated_data)
        return _one(window.pk)
