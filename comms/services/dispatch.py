"""From an update (or a system notice) to outbox rows: the plan's entries, their recipients on
the channels that are on, one row per recipient × channel with a key that makes it once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from incidents.models import MajorIncident

from .. import channels
from ..models import StakeholderUpdate
from ..selectors import audience, messages, plan
from .outbox import NewMessage, enqueue, idempotency_key


def on_channels() -> list[str]:
    """The channels switched on (their settings set), in the registry's order."""
    return [name for name in channels.REGISTRY if channels.enabled(name)]


def publish_update(update: StakeholderUpdate) -> list[int]:
    """Enqueue a sent update to everyone its plan entries name (callers hold the transaction)."""
    mi = update.major_incident
    parts = messages.Parts(
        subject=update.subject,
        current_impact=update.current_impact,
        current_action=update.current_action,
        user_action=update.user_action,
        body=update.body,
    )
    body = messages.payload(
        mi,
        update_type=update.update_type,
        parts=parts,
        next_update_at=update.next_update_at,
        automatic=update.automatic,
        update_id=update.pk,
    )
    rows = []
    on = on_channels()
    for entry in plan.entries_for(mi, update.update_type):
        for recipient in audience.recipients(mi, entry, on):
            rows.append(
                NewMessage(
                    channel=recipient.channel,
                    recipient=recipient.address,
                    key=idempotency_key("update", update.pk, recipient.channel, recipient.address),
                    purpose=update.update_type,
                    subject=update.subject,
                    payload=body,
                    major_incident_id=mi.pk,
                    update_id=update.pk,
                )
            )
    return enqueue(rows)


def notify(
    mi: MajorIncident,
    update_type: str,
    *,
    occasion: str,
    context: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    people: Iterable[audience.Recipient] = (),
    people_fallback: messages.Parts | None = None,
) -> list[int]:
    """A system notice with no stakeholder update behind it (escalation, reminder, war-room post,
    state change in chat): the update type's plan entries, its pre-approved template rendered
    once per channel. ``occasion`` makes the keys: the same occasion twice is sent once.

    ``people``: recipients named by the caller (an escalation step's targets) besides the
    plan's audience, on the channels the plan's entries use; same keys, so someone the plan
    names too hears once. ``people_fallback``: what they get from a security MI whose update
    type has no security-safe template (the plan's audience then gets nothing)."""
    security = messages.security_templates(mi)
    ctx = messages.mi_context(mi, **(context or {}))
    on = on_channels()
    rendered: dict[str, messages.Parts | None] = {}

    def parts_for(channel: str) -> messages.Parts | None:
        if channel not in rendered:
            template = messages.template_for(update_type, channel, security=security)
            rendered[channel] = messages.render(template, ctx) if template else None
        return rendered[channel]

    rows: dict[str, NewMessage] = {}

    def add(recipient: audience.Recipient, parts: messages.Parts) -> None:
        key = idempotency_key(update_type, mi.pk, occasion, recipient.channel, recipient.address)
        rows.setdefault(
            key,
            NewMessage(
                channel=recipient.channel,
                recipient=recipient.address,
                key=key,
                purpose=update_type,
                subject=parts.subject,
                payload=messages.payload(
                    mi, update_type=update_type, parts=parts, automatic=True, **(extra or {})
                ),
                major_incident_id=mi.pk,
            ),
        )

    entries = list(plan.entries_for(mi, update_type))
    for entry in entries:
        for recipient in audience.recipients(mi, entry, on):
            parts = parts_for(recipient.channel)
            if parts is not None:
                add(recipient, parts)
    planned = {channel for entry in entries for channel in entry.channels if channel in on}
    for person in people:
        if person.channel in planned:
            parts = parts_for(person.channel) or (people_fallback if security else None)
            if parts is not None:
                add(person, parts)
    return enqueue(list(rows.values()))


def send_operation(
    mi: MajorIncident | None,
    channel: str,
    recipient: str,
    *,
    operation: str,
    key: str,
    payload: dict[str, Any],
) -> list[int]:
    """One channel operation that is not a message to people (create the MI's Slack channel,
    resolve a paging alert): an outbox row like the others, retried and visible alike."""
    if not channels.enabled(channel):
        return []
    return enqueue(
        [
            NewMessage(
                channel=channel,
                recipient=recipient,
                key=key,
                purpose=operation,
                payload={"operation": operation, **payload},
                major_incident_id=mi.pk if mi else None,
            )
        ]
    )
