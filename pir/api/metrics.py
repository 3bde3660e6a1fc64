"""``GET /api/metrics/`` (every KPI as JSON) and ``GET /api/metrics/export.csv`` (the same as
CSV: one row per KPI, then one per month), for ITSM managers and super admins.

``from`` and ``to`` are ISO dates or datetimes (a naive datetime is UTC; a date as ``to``
includes its day), ``service`` a CI id; each is a 400 naming it when it is wrong
(``pir.selectors.metrics.parse_period``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, renderers, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..selectors import access
from ..selectors import metrics as metric_selectors

PARAMETERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.STR,
        description="Start of the period, included: ISO date or datetime (naive = UTC). "
        "Default: the first day of the month 11 months ago",
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.STR,
        description="End of the period, excluded; a date includes its whole day. Default: the "
        "first day of next month. At most 5 years after `from`",
    ),
    OpenApiParameter("service", OpenApiTypes.INT, description="Only this CI's incidents and MIs"),
]


class SeesKpis(permissions.BasePermission):
    """ITSM managers and super admins (``pir.selectors.access.can_see_kpis``)."""

    message = "Only ITSM managers and super admins see the KPIs."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated) and access.can_see_kpis(
            request.user
        )


class ItemSerializer(serializers.Serializer):
    number = serializers.CharField()
    url = serializers.CharField()


class KpiSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    unit = serializers.ChoiceField(choices=["seconds", "percent", "count"])
    sample = serializers.IntegerField()
    formula = serializers.CharField()
    items = ItemSerializer(many=True)


class MonthSerializer(serializers.Serializer):
    month = serializers.DateField()
    mis = serializers.IntegerField()
    change_percent = serializers.FloatField(allow_null=True)
    mttr_seconds = serializers.FloatField(allow_null=True)


class PrioritySerializer(serializers.Serializer):
    priority = serializers.IntegerField()
    incidents = serializers.IntegerField()
    mtta_seconds = serializers.FloatField(allow_null=True)
    mttd_seconds = serializers.FloatField(allow_null=True)
    mttr_seconds = serializers.FloatField(allow_null=True)
    mttr_sample = serializers.IntegerField()


class ServiceRowSerializer(serializers.Serializer):
    service_id = serializers.IntegerField()
    service = serializers.CharField()
    mis = serializers.IntegerField()
    mtbf_seconds = serializers.FloatField(allow_null=True)


class ServiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MetricsSerializer(serializers.Serializer):
    # "from" is a keyword: declared by name below.
    to = serializers.DateTimeField()
    service = ServiceSerializer(allow_null=True)
    kpis = KpiSerializer(many=True)
    monthly = MonthSerializer(many=True)
    by_priority = PrioritySerializer(many=True)
    by_service = ServiceRowSerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": serializers.DateTimeField(), **super().get_fields()}


def _metrics(request: Request) -> metric_selectors.Metrics:
    return metric_selectors.metrics(metric_selectors.parse_period(request.query_params))


class MetricsView(APIView):
    permission_classes = [SeesKpis]

    @extend_schema(parameters=PARAMETERS, responses=MetricsSerializer, operation_id="metrics")
    def get(self, request: Request) -> Response:
        """Every KPI of the period: value, unit, sample, formula and the tickets behind it; the
        MIs per month, MTTA/MTTD/MTTR per priority and MTBF per service."""
        return Response(_metrics(request).as_dict())


def csv_text(result: metric_selectors.Metrics) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kpi", "name", "value", "unit", "sample", "formula"])
    for kpi in result.kpis:
        value = "" if kpi.value is None else kpi.value
        writer.writerow([kpi.key, kpi.name, value, kpi.unit, kpi.sample, kpi.formula])
    writer.writerow([])
    writer.writerow(["month", "mis", "change_percent", "mttr_seconds"])
    for month in result.monthly:
        writer.writerow(
            [
                month["month"],
                month["mis"],
                "" if month["change_percent"] is None else month["change_percent"],
                "" if month["mttr_seconds"] is None else month["mttr_seconds"],
            ]
        )
    return out.getvalue()


class CsvRenderer(renderers.BaseRenderer):
    """So ``Accept: text/csv`` is served; a refusal (a dict) stays the JSON error shape."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, context: Any = None) -> bytes:
        if isinstance(data, str):
            return data.encode()
        return renderers.JSONRenderer().render(data)


class MetricsCsvView(APIView):
    permission_classes = [SeesKpis]
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """An unknown ``?format=`` is the client's mistake about a parameter: a 400 naming it,
        not DRF's 404 (the schema lists the formats)."""
        try:
            return super().perform_content_negotiation(request, force=force)
        except Http404:
            raise ValidationError({"format": ["format is json or csv"]}) from None

    @extend_schema(
        parameters=PARAMETERS,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV")},
        operation_id="metrics_csv",
    )
    def get(self, request: Request) -> HttpResponse:
        """The KPIs as CSV: a header and one row per KPI (kpi, name, value, unit, sample,
        formula), a blank row, then a header and one row per month (month, mis, change_percent,
        mttr_seconds)."""
        result = _metrics(request)
        response = HttpResponse(csv_text(result), content_type="text/csv; charset=utf-8")
        name = f"kpis-{result.period.start:%Y%m%d}-{result.period.end:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
