"""The OpenAPI schema, made to tell the truth about errors.

- ``JWTAuthenticationScheme`` lists the bearer scheme.
- ``AutoSchema`` adds to every operation the error answers it can give (401/403 when it needs a
  user, 404 when it addresses a row or pages a list, 400/413/415 when it reads a body or filters,
  429 when it is throttled) and gives every 4xx the one error shape, ``Error``. A view declares
  what only it knows, chiefly 409, with ``extend_schema(responses={409: conflict("…")})``.
- ``forbid_unknown_request_fields`` marks request bodies ``additionalProperties: false``: the
  API refuses any key it does not list (``StrictInputMixin``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "incidents.api.auth.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        'The one error shape: {"detail": "…"} about the request as a whole, or '
        '{"field": ["…"]} naming each field at fault (an unknown field included).'
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]
    },
}

DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, a field at fault or an unknown field; the body says which",
    401: "No token, or a bad or expired one",
    403: "The user's roles do not allow this",
    404: "No such row (or page)",
    409: "The current state of the row refuses this; the body says why",
    413: "The request body is larger than the upload limit",
    414: "The request line (path and query) is longer than the server reads (gunicorn's "
    "limit); the answer is the server's own page",
    415: "The body is not JSON",
    429: "Too many requests; retry after the time in Retry-After",
}

# Query parameters that never make a 400: a bad page is a 404, a bad page size or ordering is
# ignored (DRF's behaviour).
_LENIENT_QUERY = {"page", "page_size", "ordering"}


def conflict(description: str) -> OpenApiResponse:
    """A 409 for ``extend_schema(responses=...)``, saying which state refuses the operation."""
    return OpenApiResponse(description=description)


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for error in sorted(self._error_codes()):
            responses.setdefault(str(error), {"description": DESCRIPTIONS[error]})
        # Any request may be refused before it reaches Django: a request line over the server's
        # limit (gunicorn: 4,094 bytes) is its 414, an HTML page.
        responses.setdefault(
            "414",
            {
                "description": DESCRIPTIONS[414],
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
        )
        for code, response in responses.items():
            if code.isdigit() and int(code) >= 400 and "content" not in response:
                response["content"] = {"application/json": {"schema": self._error_ref()}}
        return dict(sorted(responses.items()))

    def _error_codes(self) -> set[int]:
        codes: set[int] = set()
        perms = [p.__class__ for p in self.view.get_permissions()]
        if permissions.AllowAny not in perms:
            codes |= {401, 403}
        if "{" in self.path:
            codes.add(404)
        if self.method == "GET" and self._is_list_view() and self._get_paginator() is not None:
            codes.add(404)  # a page past the end
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes |= {400, 413, 415}
        strict_query = [
            p
            for p in self._get_parameters()
            if p.get("in") == "query" and p.get("name") not in _LENIENT_QUERY
        ]
        if strict_query:
            codes.add(400)
        if self.view.get_throttles():
            codes.add(429)
        return codes

    def _error_ref(self) -> dict[str, str]:
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        return component.ref


def forbid_unknown_request_fields(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook: every JSON request body refuses keys it does not list."""
    schemas = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            for media in body.get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                schema = schemas.get(ref.rsplit("/", 1)[-1]) if ref else None
                if schema is not None and schema.get("type") == "object":
                    schema["additionalProperties"] = False
    return result
