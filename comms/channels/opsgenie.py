"""Opsgenie's Alert API (``Authorization: GenieKey …``), one request per page:

- trigger: ``POST /v2/alerts`` with the MI's stable ``alias`` (``mimdesk-MI0000042``): Opsgenie
  keeps one open alert per alias, and after a close the same alias opens a new alert (the MI
  reopened);
- escalation step: ``POST /v2/alerts/{alias}/notes?identifierType=alias``. Creating the alert
  again would only raise its dedup count, which nobody reads; a note puts the step on the alert
  where the responders see it (PagerDuty, by contrast, takes a second trigger, merged by key);
- acknowledge: ``POST /v2/alerts/{alias}/acknowledge?identifierType=alias``;
- resolve: ``POST /v2/alerts/{alias}/close?identifierType=alias``.

Opsgenie processes requests asynchronously: it answers ``202 {"result": "Request will be
processed", "requestId": …}``, and the request id (kept as the outbox row's provider id) is what
``GET /v2/alerts/requests/{requestId}`` and Opsgenie's support look it up by.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings

from ..models import OutboxMessage
from . import http
from .base import Channel, Sent, TransportError

MESSAGE_MAX = 130
DESCRIPTION_MAX = 15000
NOTE_MAX = 25000
DETAIL_MAX = 8000  # Opsgenie keeps details as strings; keep any one value bounded
SOURCE = "MIM Desk"


def _details(values: dict[str, Any]) -> dict[str, str]:
    """Opsgenie's ``details`` is a map of strings."""
    return {str(k): str(v)[:DETAIL_MAX] for k, v in values.items() if v not in (None, "")}


def request_for(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path (under ``OPSGENIE_API_URL``) and body for one page."""
    event = payload.get("event", "")
    alias = payload["dedup_key"]
    mi = payload.get("mi") or {}
    on_alias = f"/v2/alerts/{quote(alias, safe='')}"
    if event == "trigger":
        body: dict[str, Any] = {
            "message": (payload.get("summary") or alias)[:MESSAGE_MAX],
            "alias": alias,
            "description": (payload.get("description") or "")[:DESCRIPTION_MAX],
            "priority": f"P{mi.get('priority') or 1}",
            "details": _details(payload.get("details") or {}),
            "source": SOURCE,
            "tags": list(payload.get("tags") or []),
        }
        if payload.get("component"):
            body["entity"] = payload["component"]
        return "/v2/alerts", body
    if event == "escalation":
        return f"{on_alias}/notes", {
            "note": (payload.get("note") or "")[:NOTE_MAX],
            "source": SOURCE,
        }
    if event == "acknowledge":
        return f"{on_alias}/acknowledge", {"note": payload.get("note") or "", "source": SOURCE}
    if event == "resolve":
        return f"{on_alias}/close", {"note": payload.get("note") or "", "source": SOURCE}
    raise TransportError(f"not a paging event: {event!r}", permanent=True)


class OpsgenieChannel(Channel):
    name = "opsgenie"

    def off_reason(self) -> str:
        if not settings.OPSGENIE_API_KEY:
            return "OPSGENIE_API_KEY is unset"
        return "" if settings.OPSGENIE_API_URL else "OPSGENIE_API_URL is unset"

    def send(self, message: OutboxMessage) -> Sent:
        payload = message.payload or {}
        if not payload.get("dedup_key"):
            raise TransportError("the page has no alias", permanent=True)
        path, body = request_for(payload)
        # Every call but the create names the alert by its alias, not by Opsgenie's id.
        params = "" if path == "/v2/alerts" else "?identifierType=alias"
        response = http.request(
            "POST",
            settings.OPSGENIE_API_URL.rstrip("/") + path + params,
            what=f"Opsgenie {payload.get('event')}",
            json=body,
            headers={"Authorization": f"GenieKey {settings.OPSGENIE_API_KEY}"},
        )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        request_id = answer.get("requestId", "") if isinstance(answer, dict) else ""
        return Sent(provider_message_id=str(request_id), data={"request_id": request_id})
