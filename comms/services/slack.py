"""The MI's Slack channel: created once, role holders invited, the war-room rules pinned."""

from __future__ import annotations


def open_incident_channel(major_incident_id: int) -> None:
    """Queue the creation of the MI's channel (an outbox operation); idempotent."""


def invite_to_incident_channel(major_incident_id: int, user_id: int) -> None:
    """Queue an invitation of a role holder to the MI's channel; idempotent."""
