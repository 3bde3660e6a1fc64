"""One error shape for the whole API: ``{"detail": ...}`` or ``{"field": [...]}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from incidents.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # A bare ValidationError("…") (e.g. DRF's search filter refusing a NUL) renders as a list;
        # keep the one error shape.
        response.data = {"detail": " ".join(str(message) for message in response.data)}
    if response is not None and isinstance(exc, Http404):
        response.data = {"detail": "Not found."}
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data = {"detail": str(getattr(exc, "detail", "Authentication required."))}
    return response
