"""The sns channel (being built in issue 8: off until its module is complete)."""

from __future__ import annotations

from django.conf import settings

from ..models import OutboxMessage
from .base import Channel, Sent, TransportError


class SNSChannel(Channel):
    name = "sns"

    def off_reason(self) -> str:
        return "" if settings.MIM_SNS_TOPIC_ARN else "MIM_SNS_TOPIC_ARN is unset"

    def send(self, message: OutboxMessage) -> Sent:
        raise TransportError("the sns channel is not built yet", permanent=True)
