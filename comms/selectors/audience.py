"""Who hears one communication-plan entry for one MI, channel by channel.

- email: the users of the entry's groups (direct members and members of their MIM Desk roles),
  the groups' external addresses, the holders of the entry's RACI roles on the MI, the C and I
  holders of its RACI activity, and, where the entry says so, everyone emailed about the MI
  before; each address once, compared case-insensitively;
- slack: the groups' channels, the MI's incident channel (``INCIDENT_CHANNEL``), and the Slack
  member ids of the role holders;
- sns, teams: the groups' topics and webhooks, and the configured default one;
- webhook: the groups' webhook URLs; statuspage: the configured page.

Department groups (groups with services) join when the entry takes affected departments and the
MI's outage reaches one of their services (the affected CI and everything that depends on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from incidents import selectors as incident_selectors
from incidents.models import MajorIncident, UserProfile

from ..models import (
    ChannelName,
    CommunicationPlanEntry,
    OutboxMessage,
    StakeholderGroup,
)

INCIDENT_CHANNEL = "incident"  # the recipient that stands for the MI's own Slack channel
STATUSPAGE_PAGE = "page"

User = get_user_model()


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str


def reached_ci_ids(mi: MajorIncident) -> set[int]:
    ci_id = mi.incident.affected_ci_id
    if ci_id is None:
        return set()
    return {ci.id for ci in incident_selectors.cmdb.impact(ci_id).affected_cis} | {ci_id}


def groups_for(mi: MajorIncident, entry: CommunicationPlanEntry) -> list[StakeholderGroup]:
    groups = {g.pk: g for g in entry.audiences.all()}
    if entry.affected_departments:
        reached = reached_ci_ids(mi)
        if reached:
            for group in StakeholderGroup.objects.filter(services__in=reached).distinct():
                groups.setdefault(group.pk, group)
    return list(groups.values())


def _role_holders(mi: MajorIncident, entry: CommunicationPlanEntry) -> list[int]:
    ids: list[int] = []
    if entry.roles:
        ids += [r.user_id for r in incident_selectors.active_roles(mi) if r.role in entry.roles]
    if entry.raci_activity is not None:
        holders = incident_selectors.raci_holders(mi, entry.raci_activity.code)
        ids += [u.pk for letter in ("C", "I") for u in holders[letter]]
    return ids


def _emails(
    mi: MajorIncident, entry: CommunicationPlanEntry, groups: list[StakeholderGroup]
) -> list[str]:
    group_ids = [g.pk for g in groups]
    users = User.objects.filter(is_active=True).exclude(email="")
    people = users.filter(
        Q(pk__in=_role_holders(mi, entry))
        | Q(
            pk__in=StakeholderGroup.users.through.objects.filter(
                stakeholdergroup_id__in=group_ids
            ).values("user_id")
        )
        | Q(
            groups__in=StakeholderGroup.django_groups.through.objects.filter(
                stakeholdergroup_id__in=group_ids
            ).values("group_id")
        )
    ).distinct()
    addresses = list(people.values_list("email", flat=True))
    for group in groups:
        addresses += [a for a in group.external_emails if isinstance(a, str)]
    if entry.include_previous_recipients:
        addresses += list(
            OutboxMessage.objects.filter(major_incident=mi, channel=ChannelName.EMAIL)
            # The PIR's own mail (meeting invitations, reminders) is not stakeholder mail.
            .exclude(purpose__startswith="pir_")
            .values_list("recipient", flat=True)
            .distinct()
        )
    return _unique(a.strip() for a in addresses if a and a.strip())


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.lower(), value)
    return sorted(seen.values(), key=str.lower)


def recipients(
    mi: MajorIncident, entry: CommunicationPlanEntry, channels: Iterable[str]
) -> list[Recipient]:
    """The recipients of ``entry`` for ``mi`` on each of ``channels`` (those switched on)."""
    wanted = [c for c in entry.channels if c in set(channels)]
    if not wanted:
        return []
    groups = groups_for(mi, entry)
    out: list[Recipient] = []
    for channel in wanted:
        if channel == ChannelName.EMAIL:
            addresses = _emails(mi, entry, groups)
        elif channel == ChannelName.SLACK:
            addresses = [g.slack_channel for g in groups if g.slack_channel]
            if not mi.is_security:  # a security MI has no incident channel (decisions.md)
                addresses.append(INCIDENT_CHANNEL)
            if entry.roles:
                holders = [
                    r.user_id for r in incident_selectors.active_roles(mi) if r.role in entry.roles
                ]
                addresses += [
                    slack_id
                    for slack_id in UserProfile.objects.filter(user_id__in=holders).values_list(
                        "slack_user_id", flat=True
                    )
                    if slack_id
                ]
                if entry.update_type in ("reminder", "executive") and not mi.is_security:
                    addresses.remove(INCIDENT_CHANNEL)  # a personal note, not for the channel
        elif channel == ChannelName.SNS:
            addresses = [g.sns_topic_arn for g in groups if g.sns_topic_arn]
            addresses += [settings.MIM_SNS_TOPIC_ARN] if settings.MIM_SNS_TOPIC_ARN else []
        elif channel == ChannelName.TEAMS:
            addresses = [g.teams_webhook_url for g in groups if g.teams_webhook_url]
            addresses += [settings.TEAMS_WEBHOOK_URL] if settings.TEAMS_WEBHOOK_URL else []
        elif channel == ChannelName.WEBHOOK:
            addresses = [g.webhook_url for g in groups if g.webhook_url]
        elif channel == ChannelName.STATUSPAGE:
            addresses = [STATUSPAGE_PAGE]
        else:
            addresses = []
        out += [Recipient(channel, a) for a in _unique(addresses)]
    return out
