"""Where an action item went: its problem task, its change, its Jira issue.

The Jira issue's key is known only once the outbox row that creates it is sent (the channel
returns it as the row's ``provider_message_id``). Until ``services.actions.keep_tracker_links``
copies it onto the item, it is read from the row, so every surface shows it as soon as it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from comms.models import OutboxStatus

from ..models import ReviewActionItem


@dataclass(frozen=True)
class Tracker:
    key: str
    url: str
    status: str  # the outbox row's: pending, sending, sent, failed, dead ("sent" once kept)
    error: str = ""


def browse_url(key: str) -> str:
    return f"{settings.JIRA_URL.rstrip('/')}/browse/{key}" if settings.JIRA_URL else ""


def tracker_of(item: ReviewActionItem) -> Tracker | None:
    """The item's Jira issue (None if it was never sent there). Reads ``tracker_message``:
    callers listing items select it with them (``selectors.action_items`` does)."""
    if item.tracker_key:
        return Tracker(item.tracker_key, item.tracker_url, OutboxStatus.SENT)
    message = item.tracker_message
    if message is None:
        return None
    if message.status == OutboxStatus.SENT and message.provider_message_id:
        key = message.provider_message_id
        return Tracker(key, browse_url(key), message.status)
    return Tracker("", "", message.status, message.last_error)
