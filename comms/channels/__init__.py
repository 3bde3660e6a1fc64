"""Outbound channels: one module per transport, found by name through this registry.

Modules are imported lazily (healthchecks' ``TRANSPORTS``): a channel's library (boto3,
slack_sdk) is loaded only by a process that sends through it. Channels may read models and
selectors and record a provider's ids in their own models; they never call services.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import import_module

from .base import Channel, Sent, TransportError

logger = logging.getLogger(__name__)

REGISTRY: dict[str, str] = {
    "email": "comms.channels.email.EmailChannel",
    "sns": "comms.channels.sns.SNSChannel",
    "slack": "comms.channels.slack.SlackChannel",
    "teams": "comms.channels.teams.TeamsChannel",
    "webhook": "comms.channels.webhook.WebhookChannel",
    "statuspage": "comms.channels.statuspage.StatuspageChannel",
    "jira": "comms.channels.jira.JiraChannel",
    "pagerduty": "comms.channels.pagerduty.PagerDutyChannel",
    "opsgenie": "comms.channels.opsgenie.OpsgenieChannel",
}


@cache
def get(name: str) -> Channel:
    """The channel named ``name`` (one instance per process); KeyError for an unknown name."""
    module_name, _, class_name = REGISTRY[name].rpartition(".")
    channel_class = getattr(import_module(module_name), class_name)
    return channel_class()


_said_off: set[str] = set()


def enabled(name: str) -> bool:
    """Is the channel configured? An unset one is off, and says so once per process in the log."""
    if name not in REGISTRY:
        return False
    reason = get(name).off_reason()
    if reason and name not in _said_off:
        _said_off.add(name)
        logger.info("channel %s is off: %s", name, reason)
    return not reason


def off_reasons() -> dict[str, str]:
    """Every channel's state for the admin: "" for on, else why it is off."""
    return {name: get(name).off_reason() for name in REGISTRY}


def reset() -> None:
    """Forget the channel instances (tests change settings between cases)."""
    get.cache_clear()
    _said_off.clear()


__all__ = [
    "REGISTRY",
    "Channel",
    "Sent",
    "TransportError",
    "enabled",
    "get",
    "off_reasons",
    "reset",
]
