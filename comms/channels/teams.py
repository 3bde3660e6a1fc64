"""Microsoft Teams through a Workflows incoming webhook ("Post to a channel when a webhook request
is received"; the Office 365 connectors are retired): a POST of a message whose one attachment is
an Adaptive Card. The recipient is the webhook URL (a group's, or ``TEAMS_WEBHOOK_URL``).

Adaptive Card text is plain with a little Markdown; user text is passed as is, since a card has no
HTML to inject into and Teams renders TextBlocks without following raw markup.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from ..models import OutboxMessage
from ..selectors.messages import next_update_label
from . import http
from .base import Channel, Sent, TransportError

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


def card_for(payload: dict[str, Any]) -> dict[str, Any]:
    """The webhook body: a ``message`` carrying one Adaptive Card (1.4) with the four parts as
    facts and a button to the war room."""
    parts = payload.get("parts") or {}
    mi = payload.get("mi") or {}
    subject = payload.get("subject") or parts.get("subject") or mi.get("number") or "Update"
    facts = [
        {"title": title, "value": value}
        for title, value in (
            ("Current impact", parts.get("current_impact", "")),
            ("What we are doing", parts.get("current_action", "")),
            ("What you should do", parts.get("user_action", "")),
            ("Next update", next_update_label(payload)),
        )
        if value
    ]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": subject, "size": "Large", "weight": "Bolder", "wrap": True},
    ]
    if mi.get("number"):
        body.append(
            {
                "type": "TextBlock",
                "text": f"{mi['number']} · {mi.get('status_label', '')}".strip(" ·"),
                "isSubtle": True,
                "spacing": "None",
                "wrap": True,
            }
        )
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    if parts.get("body"):
        body.append({"type": "TextBlock", "text": parts["body"], "wrap": True})
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if mi.get("url"):
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the war room", "url": mi["url"]}
        ]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": content}],
    }


class TeamsChannel(Channel):
    name = "teams"

    def off_reason(self) -> str:
        return "" if settings.TEAMS_WEBHOOK_URL else "TEAMS_WEBHOOK_URL is unset"

    def send(self, message: OutboxMessage) -> Sent:
        url = message.recipient
        if not url.startswith(("https://", "http://")):
            raise TransportError(f"not a webhook URL: {url[:80]!r}", permanent=True)
        # 429 and 5xx temporary (Retry-After kept), other 4xx permanent: comms.channels.http.
        response = http.request(
            "POST", url, what="Teams webhook", json=card_for(message.payload or {})
        )
        # Workflows answers 202 with no id; the request id is the best handle for support.
        return Sent(provider_message_id=response.headers.get("x-ms-request-id", ""))
