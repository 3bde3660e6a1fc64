"""The teams channel (being built in issue 8: off until its module is complete)."""

from __future__ import annotations

from django.conf import settings

from ..models import OutboxMessage
from .base import Channel, Sent, TransportError


class TeamsChannel(Channel):
    name = "teams"

    def off_reason(self) -> str:
        return "" if settings.TEAMS_WEBHOOK_URL else "TEAMS_WEBHOOK_URL is unset"

    def send(self, message: OutboxMessage) -> Sent:
        raise TransportError("the teams channel is not built yet", permanent=True)
