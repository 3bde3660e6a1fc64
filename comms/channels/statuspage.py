"""The statuspage channel (being built in issue 8: off until its module is complete)."""

from __future__ import annotations

from django.conf import settings

from ..models import OutboxMessage
from .base import Channel, Sent, TransportError


class StatuspageChannel(Channel):
    name = "statuspage"

    def off_reason(self) -> str:
        return "" if settings.STATUSPAGE_API_KEY else "STATUSPAGE_API_KEY is unset"

    def send(self, message: OutboxMessage) -> Sent:
        raise TransportError("the statuspage channel is not built yet", permanent=True)
