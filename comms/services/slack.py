"""The MI's Slack channel: created once, role holders invited, the war-room rules pinned.

Both are outbox operations (``dispatch.send_operation``) with a key per MI (and per MI × user):
called twice, by two receivers or a retried task, they queue one operation; the Slack channel
does the work when it delivers it, outside any transaction, retried like any message.

A security MI gets no channel: the plan's war-room posts are ``never_security``, and a channel
wide enough to invite role holders is no place for an investigation legal has not cleared.
"""

from __future__ import annotations

import logging

from incidents.models import MajorIncident, UserProfile

from ..channels import slack as slack_channel
from ..selectors import audience
from .dispatch import send_operation

logger = logging.getLogger(__name__)


def create_channel_key(major_incident_id: int) -> str:
    return f"slack:create:{major_incident_id}"


def invite_key(major_incident_id: int, user_id: int) -> str:
    return f"slack:invite:{major_incident_id}:{user_id}"


def open_incident_channel(major_incident_id: int) -> None:
    """Queue the creation of the MI's channel (an outbox operation); idempotent."""
    mi = MajorIncident.objects.select_related("incident").filter(pk=major_incident_id).first()
    if mi is None or mi.is_security:
        return
    name = slack_channel.channel_name(
        declared_at=mi.declared_at,
        summary=mi.summary or mi.incident.short_description,
        number=mi.number,
    )
    send_operation(
        mi,
        "slack",
        audience.INCIDENT_CHANNEL,
        operation="create_channel",
        key=create_channel_key(mi.pk),
        payload={"name": name},
    )


def invite_to_incident_channel(major_incident_id: int, user_id: int) -> None:
    """Queue an invitation of a role holder to the MI's channel; idempotent.

    A user without a Slack member id is skipped; one who holds a role when the channel is created
    is invited by the creation itself, and this invitation then finds them there.
    """
    mi = MajorIncident.objects.filter(pk=major_incident_id).only("pk", "is_security").first()
    if mi is None or mi.is_security:
        return
    has_slack_id = (
        UserProfile.objects.filter(user_id=user_id, slack_user_id__isnull=False)
        .exclude(slack_user_id="")
        .exists()
    )
    if not has_slack_id:
        return
    send_operation(
        mi,
        "slack",
        audience.INCIDENT_CHANNEL,
        operation="invite",
        key=invite_key(mi.pk, user_id),
        payload={"user_id": user_id},
    )
