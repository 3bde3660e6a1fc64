"""PagerDuty's Events API v2: one ``POST`` to ``PAGERDUTY_EVENTS_URL`` per page.

The MI's stable ``dedup_key`` (``mimdesk-MI0000042``, kept in ``ExternalRecord``) ties every event
to one PagerDuty alert: a second ``trigger`` (an escalation step) is merged into the open alert,
``acknowledge`` and ``resolve`` act on it, and a ``trigger`` after a ``resolve`` (the MI reopened)
opens a new one. PagerDuty answers ``202 {"status": "success", "dedup_key": …}``; a 400 is an
invalid event (permanent), 429 and 5xx are temporary (``comms.channels.http``).

The paging service wrote the payload (and left out a security MI's details); this module only
puts it in PagerDuty's shape.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from ..models import OutboxMessage
from . import http
from .base import Channel, Sent, TransportError

# Our event → PagerDuty's ``event_action``: an escalation step is a repeated trigger.
EVENT_ACTIONS = {
    "trigger": "trigger",
    "escalation": "trigger",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
}
SEVERITY_BY_PRIORITY = {1: "critical", 2: "error", 3: "warning", 4: "info", 5: "info"}
SUMMARY_MAX = 1024  # the Events API refuses a longer summary
CLIENT = "MIM Desk"


def severity_for(priority: int | None) -> str:
    """P1 critical, P2 error, P3 warning, P4 and P5 info; an MI without one is critical."""
    return SEVERITY_BY_PRIORITY.get(priority or 1, "critical")


def event_for(payload: dict[str, Any], routing_key: str) -> dict[str, Any]:
    """The Events API v2 body for one page (``payload`` as ``services.paging`` wrote it)."""
    action = EVENT_ACTIONS.get(payload.get("event", ""))
    if action is None:
        raise TransportError(f"not a paging event: {payload.get('event')!r}", permanent=True)
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": payload["dedup_key"],
    }
    if action != "trigger":
        return event  # acknowledge and resolve carry the key only
    mi = payload.get("mi") or {}
    body: dict[str, Any] = {
        "summary": (payload.get("summary") or payload["dedup_key"])[:SUMMARY_MAX],
        "source": payload.get("source") or "mimdesk",
        "severity": severity_for(mi.get("priority")),
        "timestamp": payload.get("timestamp"),
        "custom_details": payload.get("details") or {},
    }
    for name in ("component", "group", "class"):
        if payload.get(name):
            body[name] = payload[name]
    event["payload"] = {k: v for k, v in body.items() if v is not None}
    if mi.get("url"):
        event["links"] = [{"href": mi["url"], "text": f"War room of {mi.get('number', '')}"}]
        event["client"] = CLIENT
        event["client_url"] = mi["url"]
    return event


class PagerDutyChannel(Channel):
    name = "pagerduty"

    def off_reason(self) -> str:
        if not settings.PAGERDUTY_ROUTING_KEY:
            return "PAGERDUTY_ROUTING_KEY is unset"
        return "" if settings.PAGERDUTY_EVENTS_URL else "PAGERDUTY_EVENTS_URL is unset"

    def send(self, message: OutboxMessage) -> Sent:
        payload = message.payload or {}
        if not payload.get("dedup_key"):
            raise TransportError("the page has no dedup_key", permanent=True)
        response = http.request(
            "POST",
            settings.PAGERDUTY_EVENTS_URL,
            what=f"PagerDuty {payload.get('event')}",
            json=event_for(payload, settings.PAGERDUTY_ROUTING_KEY),
        )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if answer.get("status") not in (None, "success"):
            # A 2xx that is not a success is not documented; retrying is the safe reading.
            raise TransportError(f"PagerDuty answered {str(answer)[:300]}")
        return Sent(provider_message_id=str(answer.get("dedup_key") or payload["dedup_key"]))
