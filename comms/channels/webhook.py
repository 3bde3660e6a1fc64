"""The webhook channel (being built in issue 8: off until its module is complete)."""

from __future__ import annotations

from django.conf import settings

from ..models import OutboxMessage
from .base import Channel, Sent, TransportError


class WebhookChannel(Channel):
    name = "webhook"

    def off_reason(self) -> str:
        return "" if settings.MIM_WEBHOOK_SECRET else "MIM_WEBHOOK_SECRET is unset"

    def send(self, message: OutboxMessage) -> Sent:
        raise TransportError("the webhook channel is not built yet", permanent=True)
