"""The slack channel (being built in issue 8: off until its module is complete)."""

from __future__ import annotations

from django.conf import settings

from ..models import OutboxMessage
from .base import Channel, Sent, TransportError


class SlackChannel(Channel):
    name = "slack"

    def off_reason(self) -> str:
        return "" if settings.SLACK_BOT_TOKEN else "SLACK_BOT_TOKEN is unset"

    def send(self, message: OutboxMessage) -> Sent:
        raise TransportError("the slack channel is not built yet", permanent=True)
