"""What every channel is: a transport that sends one outbox message (healthchecks' ``Transport``).

A channel formats the message's payload for its medium and sends it; it never decides who hears
what (the services did) and never retries by itself (the outbox does, from the database). It
tells a temporary error (retry later, maybe after ``retry_after`` seconds) from a permanent one
(retrying cannot help: a bad address, a revoked token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ..models import OutboxMessage


class TransportError(Exception):
    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass
class Sent:
    """A delivery the provider accepted: its id for the message (SES MessageId, Slack ts, …)."""

    provider_message_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Channel:
    """Subclasses set ``name`` and implement ``send``; ``off_reason`` says why it is off."""

    name: ClassVar[str] = ""

    def off_reason(self) -> str:
        """ "" when the channel is configured; otherwise the settings it lacks, for the log and
        the admin ("SLACK_BOT_TOKEN is unset")."""
        return ""

    def is_enabled(self) -> bool:
        return not self.off_reason()

    def send(self, message: OutboxMessage) -> Sent:
        raise NotImplementedError
