"""The meeting follows the MI (scheduled on resolution, cancelled on reopen), a new role holder
is invited, and the IC moves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.errors import Conflict, DomainError
from incidents.models import MajorIncident, MIStatus, TimelineKind
from incidents.selectors import get_property, name_of
from incidents.selectors.actors import Actor
from incidents.services import record
from incidents.services.common import lock_major_incident

from ...models import PostIncidentReview, ReviewStatus
from ...selectors import access
from ...selectors import calendar as cal
from ..reviews import create_review
from .common import (
    MAX_AHEAD,
    MAX_MINUTES,
    MEETING_STANDS,
    MIN_MINUTES,
    REOPENED,
    _clock,
    _lock_review,
    _send_invitations,
)


def major_incident_state_changed(major_incident_id: int, from_status: str, to_status: str) -> None:
    """The receiver's service: the meeting follows the MI (from the database, not the signal's
    words, so a late or repeated signal does what the MI's state asks, once)."""
    if to_status in MEETING_STANDS or to_status in REOPENED:
        sync_meeting(major_incident_id)


def sync_meeting(major_incident_id: int) -> str:
    """Bring the MI's review meeting in line with the MI: ``"scheduled"`` (resolved, the review
    made if missing, the meeting set from ``resolved_at``, invitations out), ``"cancelled"``
    (reopened: METHOD:CANCEL), or ``""`` when it already is."""
    with transaction.atomic():
        mi = MajorIncident.objects.filter(pk=major_incident_id).first()
        if mi is None:
            return ""
        mi = lock_major_incident(mi)
        if mi.status == MIStatus.RESOLVED and mi.resolved_at is not None:
            review, _ = create_review(mi=mi)
            review = _lock_review(review.pk)
            if review.status == ReviewStatus.PUBLISHED:
                return ""
            if review.meeting_at is not None and review.meeting_cancelled_at is None:
                return ""  # scheduled already (this resolution, or rescheduled by the IC)
            _schedule(review, mi)
            return "scheduled"
        if mi.status in REOPENED:
            existing = PostIncidentReview.objects.filter(major_incident=mi).first()
            if existing is None:
                return ""
            review = _lock_review(existing.pk)
            if (
                review.status == ReviewStatus.PUBLISHED
                or review.meeting_at is None
                or review.meeting_cancelled_at is not None
            ):
                return ""
            _cancel(review, mi)
            return "cancelled"
    return ""


def _schedule(review: PostIncidentReview, mi: MajorIncident) -> None:
    """Set the meeting from the MI's resolution and invite. A first scheduling is SEQUENCE 0;
    a meeting set again after a reopen is the same event (the same UID), SEQUENCE + 1."""
    assert mi.resolved_at is not None
    now = timezone.now()
    delay = timedelta(hours=get_property("pir_delay_hours"))
    meeting_at = (mi.resolved_at + delay).replace(microsecond=0)
    if meeting_at <= now:
        # Caught up late (the receiver failed and beat was down past the meeting time): an
        # invitation into the past helps nobody; the same delay from now instead.
        meeting_at = (now + delay).replace(microsecond=0)
    again = review.meeting_at is not None
    if again:
        review.meeting_sequence += 1
    review.meeting_at = meeting_at
    review.meeting_cancelled_at = None
    review.meeting_location = mi.bridge_link or ""
    review.major_incident = mi
    deadline_days = get_property("pir_publish_deadline_days")
    review.publish_due_at = mi.resolved_at + timedelta(days=deadline_days)
    if review.publish_due_at > now:
        review.overdue_flagged_at = None  # a new deadline from the new resolution
    review.save(
        update_fields=[
            "meeting_at",
            "meeting_sequence",
            "meeting_cancelled_at",
            "meeting_location",
            "publish_due_at",
            "overdue_flagged_at",
            "updated_at",
        ]
    )
    sent = _send_invitations(review, cal.REQUEST)
    record(
        mi.incident,
        TimelineKind.REVIEW,
        f"Post-incident review meeting {'rescheduled' if again else 'scheduled'} for "
        f"{_clock(meeting_at)}; invitations to {sent} "
        f"{'person' if sent == 1 else 'people'}; publish by {_clock(review.publish_due_at)}",
        major_incident=mi,
        data={
            "review": review.pk,
            "meeting_at": meeting_at.isoformat(),
            "sequence": review.meeting_sequence,
            "invited": sent,
        },
    )


def _cancel(review: PostIncidentReview, mi: MajorIncident) -> None:
    review.meeting_sequence += 1
    review.meeting_cancelled_at = timezone.now()
    review.save(update_fields=["meeting_sequence", "meeting_cancelled_at", "updated_at"])
    sent = _send_invitations(review, cal.CANCEL)
    assert review.meeting_at is not None
    record(
        mi.incident,
        TimelineKind.REVIEW,
        f"Post-incident review meeting of {_clock(review.meeting_at)} cancelled: {mi.number} "
        f"was reopened ({sent} cancellation{'s' if sent != 1 else ''} sent)",
        major_incident=mi,
        data={"review": review.pk, "sequence": review.meeting_sequence, "cancelled": True},
    )


def invite_role_holder(major_incident_id: int, user_id: int) -> int:
    """A role assigned after the invitations went out: the new holder gets the current
    invitation (the same UID and SEQUENCE; the event lists them among the attendees)."""
    with transaction.atomic():
        review = (
            PostIncidentReview.objects.filter(
                major_incident_id=major_incident_id,
                meeting_at__gt=timezone.now(),
                meeting_cancelled_at__isnull=True,
            )
            .exclude(status=ReviewStatus.PUBLISHED)
            .first()
        )
        if review is None:
            return 0
        review = _lock_review(review.pk)
        target = [p for p in cal.invitees(review.major_incident) if p.user_id == user_id]
        return _send_invitations(review, cal.REQUEST, only=target)


# --- Rescheduling ---------------------------------------------------------------------------------


def _clean_meeting_at(value: Any, now: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise DomainError("meeting_at is a date and time with its zone", field="meeting_at")
    if timezone.is_naive(value):
        raise DomainError(
            "meeting_at needs its time zone, e.g. 2025-03-05T10:00:00Z", field="meeting_at"
        )
    if value <= now:
        raise DomainError("meeting_at is in the past; pick a time to come", field="meeting_at")
    if value > now + MAX_AHEAD:
        raise DomainError("meeting_at is more than a year away", field="meeting_at")
    return value.astimezone(UTC).replace(microsecond=0)


def _clean_minutes(value: Any, current: int) -> int:
    if value is None:
        return current
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError("minutes is a whole number of minutes", field="minutes")
    if not MIN_MINUTES <= value <= MAX_MINUTES:
        raise DomainError(f"minutes is between {MIN_MINUTES} and {MAX_MINUTES}", field="minutes")
    return value


def reschedule_meeting(
    *, review: PostIncidentReview, actor: Actor, meeting_at: Any, minutes: Any = None
) -> PostIncidentReview:
    """Move the meeting (the IC, ITSM managers, super admins): SEQUENCE + 1, an updated
    invitation (METHOD:REQUEST, the same UID) to every invitee, both reminders due again for the
    new time, a timeline row. The same time and length again changes nothing (a repeated
    request sends nothing twice)."""
    access.ensure_run(actor, review)
    with transaction.atomic():
        mi = lock_major_incident(review.major_incident)
        review = _lock_review(review.pk)
        if review.status == ReviewStatus.PUBLISHED:
            raise Conflict("the review is published: its meeting is not moved", field="meeting_at")
        if mi.status != MIStatus.RESOLVED:
            raise Conflict(
                f"{mi.number} is {mi.status}: the review meeting is set once it is resolved",
                field="meeting_at",
            )
        now = timezone.now()
        when = _clean_meeting_at(meeting_at, now)
        length = _clean_minutes(minutes, review.meeting_minutes)
        if (
            when == review.meeting_at
            and length == review.meeting_minutes
            and review.meeting_cancelled_at is None
        ):
            return review
        before = review.meeting_at
        review.meeting_sequence += 1
        review.meeting_at = when
        review.meeting_minutes = length
        review.meeting_cancelled_at = None
        if not review.meeting_location:
            review.meeting_location = mi.bridge_link or ""
        review.major_incident = mi
        review.save(
            update_fields=[
                "meeting_at",
                "meeting_minutes",
                "meeting_sequence",
                "meeting_cancelled_at",
                "meeting_location",
                "updated_at",
            ]
        )
        sent = _send_invitations(review, cal.REQUEST)
        moved = f" from {_clock(before)}" if before else ""
        record(
            mi.incident,
            TimelineKind.REVIEW,
            f"Post-incident review meeting moved{moved} to {_clock(when)} ({length} min) by "
            f"{name_of(actor)}; updated invitations to {sent}",
            actor=actor,
            major_incident=mi,
            data={
                "review": review.pk,
                "meeting_at": when.isoformat(),
                "minutes": length,
                "sequence": review.meeting_sequence,
            },
        )
    return review
