"""Who is on an MI's bridge call: joining and leaving, each a timeline row with its time.

A team member records themselves or anyone else who may see the MI (the one who ran the call
usually knows who dialled in). Being on the bridge twice at once is impossible: the partial
unique constraint on the open stay (``bridge_one_stay_at_a_time``) refuses a second join even
when two arrive together, and the service turns that into the same 409 as its own check.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.errors import Conflict
from incidents.events import send_after_commit
from incidents.models import MajorIncident, TimelineKind
from incidents.selectors import actor_id, ensure, name_of, user_of
from incidents.selectors.actors import Actor
from incidents.services.common import lock_major_incident, whole_minutes

from .. import events
from ..models import BridgeAttendance
from .common import check_viewer, ensure_writable, record_mi


def _by(actor: Actor | None, user: Any) -> str:
    return "" if user_of(actor) == user else f" (recorded by {name_of(actor)})"


@transaction.atomic
def join_bridge(*, mi: MajorIncident, actor: Actor | None, user: Any) -> BridgeAttendance:
    """``user`` is on the bridge from now: a BRIDGE_JOINED row; 409 if they are on it already."""
    ensure(actor, "post_timeline", mi)
    user = check_viewer(user, mi, field="user")
    mi = lock_major_incident(mi)
    ensure_writable(mi)
    now = timezone.now()
    on_already = f"{user.username} is on {mi.number}'s bridge already"
    if BridgeAttendance.objects.filter(major_incident=mi, user=user, left_at__isnull=True).exists():
        raise Conflict(on_already)
    try:
        with transaction.atomic():
            stay = BridgeAttendance.objects.create(
                major_incident=mi, user=user, joined_at=now, recorded_by=user_of(actor)
            )
    except IntegrityError:
        raise Conflict(on_already) from None
    record_mi(
        mi,
        TimelineKind.BRIDGE_JOINED,
        f"{user.username} joined the bridge at {now:%H:%M} UTC{_by(actor, user)}",
        actor=actor,
        data={"user": user.username, "attendance": stay.pk, "at": now.isoformat()},
    )
    send_after_commit(
        events.attendee_joined,
        major_incident_id=mi.pk,
        user_id=user.pk,
        actor_id=actor_id(actor),
    )
    return stay


@transaction.atomic
def leave_bridge(*, mi: MajorIncident, actor: Actor | None, user: Any) -> BridgeAttendance:
    """``user`` left the bridge now: their open stay ends, a BRIDGE_LEFT row; 409 if not on it."""
    ensure(actor, "post_timeline", mi)
    user = check_viewer(user, mi, field="user")
    mi = lock_major_incident(mi)
    ensure_writable(mi)
    stay = (
        BridgeAttendance.objects.select_for_update(no_key=True)
        .filter(major_incident=mi, user=user, left_at__isnull=True)
        .first()
    )
    if stay is None:
        raise Conflict(f"{user.username} is not on {mi.number}'s bridge")
    now = timezone.now()
    stay.left_at = now
    stay.save(update_fields=["left_at"])
    minutes = whole_minutes(now - stay.joined_at)
    record_mi(
        mi,
        TimelineKind.BRIDGE_LEFT,
        f"{user.username} left the bridge at {now:%H:%M} UTC after {minutes} min{_by(actor, user)}",
        actor=actor,
        data={
            "user": user.username,
            "attendance": stay.pk,
            "at": now.isoformat(),
            "joined_at": stay.joined_at.isoformat(),
        },
    )
    send_after_commit(
        events.attendee_left,
        major_incident_id=mi.pk,
        user_id=user.pk,
        actor_id=actor_id(actor),
    )
    return stay
