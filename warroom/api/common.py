"""What the war room's endpoints share: the MI they hang off, and body
fields that refuse what DRF's own would quietly coerce (``"text": 123``, ``"version": "3"``,
``true`` as a number, a due time without a zone).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils import dateparse, timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from incidents.api.permissions import Can
from incidents.models import MajorIncident
from incidents.selectors import ensure

NUMBER = OpenApiParameter(
    "number",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The major incident's number, e.g. MI0000042",
)


class MajorIncidentResourceView(GenericAPIView):
    """A resource of one MI, addressed by its number, read by whoever may see the MI.

    As ``MajorIncidentViewSet``: no view permission on any MI is a 403 before anything is looked
    up; an unknown number a 404; an MI the user may not see a 403 saying who may. Writes ask
    their own action in the service (``post_timeline``, ``edit_scratchpad``).
    """

    permission_classes = [Can.of("view", MajorIncident)]
    filter_backends: list[Any] = []

    def get_mi(self) -> MajorIncident:
        return major_incident(self.request, self.kwargs["number"])

    # DRF's OPTIONS answer (its metadata) asks the view for its object and queryset to say what
    # a PUT or POST takes; without these it was an AssertionError, a 500.
    def get_queryset(self) -> Any:
        return MajorIncident.objects.select_related("incident")

    def get_object(self) -> MajorIncident:
        return self.get_mi()

    def get_serializer_class(self) -> Any:
        # A view that names no serializer (it picks one per method) tells OPTIONS no fields; the
        # OpenAPI schema at /api/schema/ is where each body is documented.
        return self.serializer_class or serializers.Serializer


def major_incident(request: Request, number: str) -> MajorIncident:
    """The URL's MI for a user who may see it (404 unknown; 403 not theirs, saying who may)."""
    mi = MajorIncident.objects.by_number(number).select_related("incident").first()
    if mi is None:
        raise Http404("No such major incident")
    ensure(request.user, "view", mi)
    return mi


class TextField(serializers.CharField):
    """Text, and only text: DRF's CharField would take ``123`` as ``"123"``."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class WholeNumberField(serializers.IntegerField):
    """A JSON integer: DRF's IntegerField would take ``"3"`` and ``3.0``."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


ISO_AWARE = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]](Z|+HH:MM|-HH:MM)"


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time with its zone; a naive one is refused, not read as UTC."""

    default_error_messages = {
        "naive": "Give the time zone, e.g. 2025-03-03T10:30:00Z.",
    }

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or len(value) > 40:
            self.fail("invalid", format=ISO_AWARE)
        try:
            parsed = dateparse.parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid", format=ISO_AWARE)
        if timezone.is_naive(parsed):
            self.fail("naive")
        return super().to_internal_value(value)


def username_out() -> Any:
    """A user shown by username (``null`` for none), as everywhere in the API."""
    return serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
