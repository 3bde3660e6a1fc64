"""One error shape for the whole API: ``{"detail": ...}`` or ``{"field": [...]}``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from incidents.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        # Django would answer its HTML 400 page; the API says what is wrong, in JSON.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"the request body is larger than the limit of {limit} bytes"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # A bare ValidationError("…") (e.g. DRF's search filter refusing a NUL) renders as a list;
        # keep the one error shape.
        response.data = {"detail": " ".join(str(message) for message in response.data)}
    if response is not None and isinstance(response.data, dict):
        messages = response.data.get("detail")
        if isinstance(messages, list):
            # A serializer's ValidationError({"detail": [...]}) (e.g. "give at least one
            # milestone"): "detail" is always one string in the error shape.
            response.data["detail"] = " ".join(str(message) for message in messages)
    if response is not None and isinstance(exc, Http404):
        response.data = {"detail": "Not found."}
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data = {"detail": str(getattr(exc, "detail", "Authentication required."))}
    return response
