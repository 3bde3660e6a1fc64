"""``/api/inbound/<kind>/``: monitoring tools post here (DESIGN "Inbound channels").

Plain Django views, not DRF's: the bearer token here is a source's own secret, not a JWT, and
must never reach the JWT authentication (which would refuse it, or worse, read it). The rules
are in ``comms.services.inbound``; these only read the request and answer JSON.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ..models import InboundKind
from ..services import inbound

HEADERS = (
    "Authorization",
    "Content-Type",
    "User-Agent",
    "X-Forwarded-For",
    inbound.ingest.GRAFANA_SIGNATURE,
    inbound.ingest.GRAFANA_TIMESTAMP,
)


def _too_big() -> JsonResponse:
    limit = inbound.MAX_BODY // (1024 * 1024)
    return JsonResponse(
        {"detail": f"The payload is larger than {limit} MB.", "errors": {"body": ["too large"]}},
        status=413,
    )


def _read(request: HttpRequest) -> bytes | None:
    """The body, or None when it is over the limit (read no further than the limit)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > inbound.MAX_BODY:
        return None
    body = request.read(inbound.MAX_BODY + 1)
    return None if len(body) > inbound.MAX_BODY else body


def endpoint(kind: str) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            response = JsonResponse(
                {"detail": f"Method {request.method} not allowed: POST a notification."},
                status=405,
            )
            response["Allow"] = "POST"
            return response
        body = _read(request)
        if body is None:
            return _too_big()
        headers = {name: request.headers.get(name, "") for name in HEADERS}
        received = inbound.receive(kind=kind, body=body, headers=headers)
        response = JsonResponse(received.body, status=received.status)
        if received.status == 401:
            scheme = "HMAC" if kind == InboundKind.GRAFANA else "Bearer"
            response["WWW-Authenticate"] = f'{scheme} realm="mimdesk-inbound"'
        return response

    view.__name__ = f"inbound_{kind}"
    return view
