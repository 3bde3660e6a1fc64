"""What the plan does on its own when something happens to an MI: the services the receivers
call (``comms/receivers.py``), each taking the ids a domain signal carries.

Every one is safe to run twice for one event (a signal sent again, a receiver retried): the
stakeholder updates they write fill a slot (unique per MI) and the notices they queue carry an
idempotency key made from the event, so the second run finds both taken and sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from incidents import selectors as incident_selectors
from incidents.models import (
    MajorIncident,
    MIStatus,
    RoleAssignment,
    TimelineEntry,
    TimelineKind,
    UserProfile,
)
from incidents.selectors import get_property, name_of
from incidents.services import record

from ..models import (
    ChannelName,
    CommsState,
    OutboxMessage,
    OutboxStatus,
    UpdateType,
)
from ..selectors import audience, messages
from . import slack
from .dispatch import notify, on_channels
from .outbox import NewMessage, enqueue, idempotency_key
from .updates import from_template

logger = logging.getLogger(__name__)
User = get_user_model()

# War-room posts: the timeline kinds that go to the chat channels.
POSTED_KINDS = (TimelineKind.COMMAND_UPDATE, TimelineKind.DECISION)
# A move to ``closed`` changes nothing the public sees (the page says "Resolved" already).
SILENT_ON_STATUS_PAGE = (MIStatus.CLOSED,)
# The channels an escalation notice can reach a person on.
PERSONAL_CHANNELS = (ChannelName.EMAIL, ChannelName.SLACK)


def _mi(major_incident_id: int) -> MajorIncident | None:
    """The MI re-read by id (a signal carries ids); None when it is gone, as Sentry's tasks do."""
    return (
        MajorIncident.objects.select_related("incident__affected_ci")
        .filter(pk=major_incident_id)
        .first()
    )


def _all(*steps: Callable[[], object]) -> None:
    """Run every step even if one fails, then raise the first failure (logged by the signal's
    robust sender): a Slack channel that cannot be queued must not cost the initial
    notification."""
    failure: Exception | None = None
    for step in steps:
        try:
            step()
        except Exception as exc:
            if failure is None:
                failure = exc  # re-raised below, after the other steps
            else:
                logger.exception("comms step %s failed", getattr(step, "__name__", step))
    if failure is not None:
        raise failure


# --- Declaration ----------------------------------------------------------------------------------


def ensure_comms_state(mi: MajorIncident) -> CommsState:
    """The MI's communication clock: the executive sponsor first hears one executive cadence
    after the declaration."""
    minutes = get_property("executive_update_cadence_minutes")
    state, _ = CommsState.objects.get_or_create(
        major_incident=mi,
        defaults={"next_executive_due_at": mi.declared_at + timedelta(minutes=minutes)},
    )
    return state


def major_incident_declared(major_incident_id: int) -> None:
    """The communication clock, the initial notification (the plan decides who hears it; a
    security MI's waits for legal) and the MI's Slack channel."""
    mi = _mi(major_incident_id)
    if mi is None:
        return

    def clock() -> None:
        ensure_comms_state(mi)

    def initial() -> None:
        with transaction.atomic():
            from_template(mi=mi, update_type=UpdateType.INITIAL, slot="initial")

    def channel() -> None:
        slack.open_incident_channel(mi.pk)

    _all(clock, initial, channel)


# --- State changes --------------------------------------------------------------------------------


def times_moved_to(mi: MajorIncident, status: str) -> int:
    """How often the MI entered ``status`` (its timeline's status rows). A signal sent again
    finds the same count, so the slots below name one move, not one signal."""
    return TimelineEntry.objects.filter(
        major_incident=mi, kind=TimelineKind.MI_STATUS_CHANGED, data__to=status
    ).count()


def numbered(name: str, n: int) -> str:
    """ "resolution" the first time, "resolution:2" after a regression and a second resolution."""
    return name if n <= 1 else f"{name}:{n}"


def major_incident_state_changed(major_incident_id: int, from_status: str, to_status: str) -> None:
    """A status-page update for the new state, a post in the chat channels, and on resolution
    the resolution notification; on cancellation a notice to those who heard of the MI."""
    mi = _mi(major_incident_id)
    if mi is None:
        return
    n = times_moved_to(mi, to_status)
    label = messages.STATUS_LABELS.get(to_status, to_status)
    steps: list[Callable[[], object]] = []
    # Moved on again before this ran: the page and the chat hear of the later state from its
    # own signal (the templates say the MI's state now); the resolution is still owed while
    # the MI stays resolved or closed.
    current = mi.status == to_status

    if current and to_status not in SILENT_ON_STATUS_PAGE:

        def status_page() -> None:
            with transaction.atomic():
                from_template(
                    mi=mi,
                    update_type=UpdateType.STATUS_PAGE,
                    slot=numbered(f"status_page:{to_status}", n),
                )

        steps.append(status_page)

    def war_room() -> None:
        regression = from_status == MIStatus.MONITORING and to_status == MIStatus.INVESTIGATING
        post = f"{mi.number} is now {label.lower()} ({from_status} → {to_status})"
        if regression:
            post = f"Regression: {post}"
        with transaction.atomic():
            notify(
                mi,
                UpdateType.WAR_ROOM,
                occasion=numbered(f"state:{to_status}", n),
                context={"post": post},
            )

    if current:
        steps.append(war_room)

    if to_status == MIStatus.RESOLVED and mi.resolved_at is not None:

        def resolution() -> None:
            with transaction.atomic():
                from_template(
                    mi=mi, update_type=UpdateType.RESOLUTION, slot=numbered("resolution", n)
                )

        steps.append(resolution)

    if to_status == MIStatus.CANCELLED:
        steps.append(lambda: tell_of_cancellation(mi, n))

    _all(*steps)


def tell_of_cancellation(mi: MajorIncident, n: int = 1) -> list[int]:
    """Those who heard the initial notification hear that the MI was cancelled, on the same
    channel at the same address. Nobody else: a cancelled MI should make no more noise than it
    made already. A security MI's notice leaves out the reason (it may name what happened)."""
    heard = list(
        OutboxMessage.objects.filter(
            major_incident=mi,
            update__update_type=UpdateType.INITIAL,
            status__in=[OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.PENDING],
        )
        .values_list("channel", "recipient")
        .distinct()
        .order_by("channel", "recipient")
    )
    on = on_channels()
    heard = [(channel, address) for channel, address in heard if channel in on]
    if not heard:
        return []
    why = "" if mi.is_security or not mi.cancel_reason else f" Reason: {mi.cancel_reason}"
    parts = messages.Parts(
        subject=f"[{mi.number}] Cancelled: no longer a major incident",
        current_impact=f"{mi.number} is no longer handled as a major incident.{why}",
        current_action="The major-incident response has stood down.",
        user_action="None. Disregard the earlier notification.",
    )
    body = messages.payload(mi, update_type="cancelled", parts=parts, automatic=True)
    occasion = numbered("cancelled", n)
    rows = [
        NewMessage(
            channel=channel,
            recipient=address,
            key=idempotency_key("cancelled", mi.pk, occasion, channel, address),
            purpose="cancelled",
            subject=parts.subject,
            payload=body,
            major_incident_id=mi.pk,
        )
        for channel, address in heard
    ]
    with transaction.atomic():
        already = OutboxMessage.objects.filter(idempotency_key__in=[r.key for r in rows]).exists()
        ids = enqueue(rows)
        if not already:
            record(
                mi.incident,
                TimelineKind.COMMUNICATION,
                f"Cancellation notice sent to the {len(rows)} recipients of the initial "
                f"notification",
                major_incident=mi,
                data={"cancelled_notice": True, "recipients": len(rows)},
            )
    return ids


# --- Roles, war-room posts ------------------------------------------------------------------------


def role_assigned(major_incident_id: int, role: str, user_id: int) -> None:
    """The new role holder is invited to the MI's Slack channel, and the channel hears of it."""
    mi = _mi(major_incident_id)
    if mi is None:
        return
    assignment = (
        RoleAssignment.objects.filter(
            major_incident=mi, role=role, user_id=user_id, removed_at__isnull=True
        )
        .select_related("user")
        .order_by("-id")
        .first()
    )
    if assignment is None:
        return  # removed again before this ran

    def invite() -> None:
        slack.invite_to_incident_channel(mi.pk, user_id)

    def post() -> None:
        who = name_of(assignment.user)
        what = assignment.get_role_display()
        with transaction.atomic():
            notify(
                mi,
                UpdateType.WAR_ROOM,
                occasion=f"role:{assignment.pk}",
                context={"post": f"{who} is now {what} of {mi.number}"},
            )

    _all(invite, post)


def timeline_post_added(major_incident_id: int, entry_id: int, kind: str) -> list[int]:
    """A command update or a decision goes to the chat channels (never a security MI's: the
    plan's war-room entry is never for security MIs)."""
    if kind not in POSTED_KINDS:
        return []
    mi = _mi(major_incident_id)
    entry = TimelineEntry.objects.filter(pk=entry_id, major_incident_id=major_incident_id).first()
    if mi is None or entry is None:
        return []
    prefix = "Decision" if kind == TimelineKind.DECISION else "Command update"
    with transaction.atomic():
        return notify(
            mi,
            UpdateType.WAR_ROOM,
            occasion=f"post:{entry.pk}",
            context={"post": f"{prefix}: {entry.message}"},
        )


# --- Escalations ----------------------------------------------------------------------------------


def escalation_targets(
    mi: MajorIncident, *, target_role: str = "", target_group_id: int | None = None
) -> list[Any]:
    """The people an escalation step names: the MI's holders of its role, the members of its
    group (active users only, in id order)."""
    ids: set[int] = set()
    if target_role:
        ids |= {r.user_id for r in incident_selectors.active_roles(mi) if r.role == target_role}
    if target_group_id:
        ids |= set(User.objects.filter(groups__id=target_group_id).values_list("pk", flat=True))
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk"))


def _addresses(people: list[Any], channel: str) -> list[str]:
    if channel == ChannelName.EMAIL:
        return sorted({p.email.strip() for p in people if p.email and p.email.strip()})
    if channel == ChannelName.SLACK:
        ids = UserProfile.objects.filter(user_id__in=[p.pk for p in people]).exclude(
            slack_user_id=None
        )
        return sorted({s for s in ids.values_list("slack_user_id", flat=True) if s})
    return []


def notify_people(
    mi: MajorIncident,
    update_type: str,
    *,
    occasion: str,
    people: Iterable[Any],
    context: dict[str, Any] | None = None,
    security_fallback: messages.Parts | None = None,
) -> list[int]:
    """``dispatch.notify`` to named people as well as the plan's audience: the same template,
    channels and keys (``update_type:mi:occasion:channel:address``), so a person the plan names
    too gets it once. ``security_fallback``: what the named people get from a security MI
    whose update type has no security-safe template (the plan's audience still gets nothing)."""
    people = list(people)
    on = on_channels()
    named = [
        audience.Recipient(channel, address)
        for channel in PERSONAL_CHANNELS
        if channel in on
        for address in _addresses(people, channel)
    ]
    ids = notify(
        mi,
        update_type,
        occasion=occasion,
        context=context,
        people=named,
        people_fallback=security_fallback,
    )
    return sorted(ids)


def escalation_triggered(
    major_incident_id: int,
    step_id: int,
    target_label: str,
    target_role: str = "",
    target_group_id: int | None = None,
    policy_trigger: str = "",
) -> list[int]:
    """The escalation notice to the step's target (its role holders, its group's members) and
    the plan's audience for escalations (the MI's channel), once per step."""
    mi = _mi(major_incident_id)
    if mi is None:
        return []
    people = escalation_targets(mi, target_role=target_role, target_group_id=target_group_id)
    firing = (
        TimelineEntry.objects.filter(
            major_incident=mi, kind=TimelineKind.ESCALATED, data__target=target_label
        )
        .order_by("-id")
        .first()
    )
    reason = firing.message if firing else f"Escalated to {target_label}"
    with transaction.atomic():
        return notify_people(
            mi,
            UpdateType.ESCALATION,
            occasion=f"escalation:{step_id}",
            people=people,
            context={"escalation_target": target_label, "escalation_reason": reason},
            security_fallback=security_escalation(mi, target_label),
        )


def security_escalation(mi: MajorIncident, target_label: str) -> messages.Parts:
    """A security MI's escalation notice when no security-safe escalation template exists:
    the responders it calls in must hear (security, legal, executives at once), but of nothing
    beyond who is needed, by when, and where — no service, no impact, no reason."""
    deadline = mi.declared_at + timedelta(hours=get_property("security_breach_notification_hours"))
    return messages.Parts(
        subject=f"[{mi.number}] Security incident: {target_label} needed",
        current_impact=f"A security incident needs {target_label}.",
        current_action=f"Breach notification deadline: {messages.clock(deadline)}.",
        user_action=f"Join the war room: {messages.war_room_url(mi)}. Do not discuss the "
        "incident outside the response team.",
    )
