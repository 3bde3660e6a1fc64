"""A generic webhook: the update as JSON, POSTed to a stakeholder group's URL, signed with
HMAC-SHA256 under ``MIM_WEBHOOK_SECRET``.

Headers of every delivery:

- ``X-MIM-Timestamp: <unix seconds>``
- ``X-MIM-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
  ``hex(HMAC-SHA256(secret, f"{t}.{body}"))`` over the exact bytes of the body; a receiver may
  see more than one ``v1=`` (a secret being rotated) and accepts the request if any matches
- ``X-MIM-Delivery: <idempotency key>``: the same for every retry of one message, so a receiver
  that already processed it drops the retry

The timestamp is in the signed string so that a captured request cannot be replayed later:
``verify`` refuses one older (or newer) than its tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from ..models import OutboxMessage
from . import http
from .base import Channel, Sent, TransportError

SIGNATURE_HEADER = "X-MIM-Signature"
TIMESTAMP_HEADER = "X-MIM-Timestamp"
DELIVERY_HEADER = "X-MIM-Delivery"
SCHEME = "v1"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` under ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},{SCHEME}={signature(secret, body, timestamp)}"


def verify(
    secret: str, body: bytes, header: str, now: datetime | float, tolerance: int = 300
) -> bool:
    """Is ``header`` (an ``X-MIM-Signature`` value) a valid signature of ``body`` under
    ``secret``, made within ``tolerance`` seconds of ``now``? For receivers of our webhooks."""
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == SCHEME and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    moment = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(moment - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp)
    # Constant-time, each candidate: timing must not tell how much of a guess was right.
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def body_for(message: OutboxMessage) -> dict[str, Any]:
    """What a receiver gets: the update's type, the MI, the four parts, the next update time and
    the idempotency key (also in ``X-MIM-Delivery``)."""
    payload = message.payload or {}
    parts = payload.get("parts") or {}
    return {
        "id": message.idempotency_key,
        "type": payload.get("update_type") or message.purpose,
        "major_incident": payload.get("mi") or {},
        "subject": payload.get("subject") or message.subject,
        "current_impact": parts.get("current_impact", ""),
        "current_action": parts.get("current_action", ""),
        "user_action": parts.get("user_action", ""),
        "body": parts.get("body", ""),
        "next_update_at": payload.get("next_update_at"),
        "automatic": bool(payload.get("automatic")),
        "text": payload.get("text", ""),
    }


class WebhookChannel(Channel):
    name = "webhook"

    def off_reason(self) -> str:
        return "" if settings.MIM_WEBHOOK_SECRET else "MIM_WEBHOOK_SECRET is unset"

    def send(self, message: OutboxMessage) -> Sent:
        url = message.recipient
        if not url.startswith(("https://", "http://")):
            raise TransportError(f"not a webhook URL: {url[:80]!r}", permanent=True)
        body = json.dumps(body_for(message), separators=(",", ":"), sort_keys=True).encode()
        timestamp = int(timezone.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(settings.MIM_WEBHOOK_SECRET, body, timestamp),
            TIMESTAMP_HEADER: str(timestamp),
            DELIVERY_HEADER: message.idempotency_key,
        }
        response = http.request("POST", url, what="webhook", data=body, headers=headers)
        return Sent(provider_message_id=response.headers.get("X-Request-Id", "")[:255])
