"""The review's schedule: created when the MI is resolved, its meeting at resolved +
``pir_delay_hours`` with iCalendar invitations, reminders, overdue flags, the publish deadline.

One function, ``sync_meeting``, brings a review's meeting in line with its MI's state (resolved:
scheduled; reopened: cancelled); the signal's receiver and the periodic catch-up both call it, so
a receiver that failed is made good by the next tick, and a signal sent twice does nothing the
second time (the review row, locked, says what was done).

Every message is an outbox row written in the same transaction as the review row that records
it, keyed by review, SEQUENCE (or meeting time) and address: nothing is sent twice, and the outbox
delivers after commit. Locks: the incident, the MI, then the review (``lock_major_incident``
first) for changes of the meeting; the periodic reminders and overdue flags lock only the review,
claimed with ``select_for_update(skip_locked=True)`` so two schedulers at once split the work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from comms.services import NewMessage, enqueue, idempotency_key
from incidents.errors import Conflict, DomainError
from incidents.models import MajorIncident, MIStatus, TimelineKind
from incidents.selectors import get_property, name_of
from incidents.selectors.actors import Actor
from incidents.services import record
from incidents.services.common import lock_major_incident

from ..models import PostIncidentReview, ReviewStatus
from ..selectors import access
from ..selectors import calendar as cal
from .reviews import create_review

User = get_user_model()

MANAGERS_GROUP = "itsm_manager"
MIN_MINUTES, MAX_MINUTES = 15, 480
# A meeting further out than this is a typo (a year instead of a month), not a plan.
MAX_AHEAD = timedelta(days=365)
# The MI states in which the meeting stands; any other live state cancels it.
MEETING_STANDS = (MIStatus.RESOLVED, MIStatus.CLOSED)
# The states that reopen an MI (the lifecycle: resolved → investigating); a cancelled or
# closed MI keeps what its review has.
REOPENED = (
    MIStatus.DECLARED,
    MIStatus.INVESTIGATING,
    MIStatus.IDENTIFIED,
    MIStatus.MONITORING,
)
PURPOSE_INVITE = "pir_invitation"
PURPOSE_CANCEL = "pir_cancellation"
PURPOSE_REMINDER = "pir_reminder"
PURPOSE_OVERDUE = "pir_overdue"


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %d %b %Y %H:%M UTC")


def _lock_review(review_id: int) -> PostIncidentReview:
    return (
        PostIncidentReview.objects.select_for_update(of=("self",))
        .select_related("major_incident__incident")
        .get(pk=review_id)
    )


# --- Invitations ----------------------------------------------------------------------------------


def _invitation_text(review: PostIncidentReview, method: str) -> tuple[str, str]:
    mi = review.major_incident
    assert review.meeting_at is not None
    when = _clock(review.meeting_at)
    if method == cal.CANCEL:
        subject = f"Cancelled: post-incident review of {mi.number}"
        lead = (
            f"The post-incident review meeting of {mi.number} planned for {when} is cancelled: "
            f"the major incident was reopened. A new invitation follows when it is resolved again."
        )
    else:
        updated = "Updated invitation: " if review.meeting_sequence else "Invitation: "
        subject = f"{updated}post-incident review of {mi.number}, {when}"
        lead = (
            f"You are invited to the blameless post-incident review of {mi.number} on {when} "
            f"({review.meeting_minutes} min)."
        )
    return subject, f"{lead}\n\n{cal.description(review)}"


def _send_invitations(
    review: PostIncidentReview, method: str, only: list[cal.Invitee] | None = None
) -> int:
    """The current invitation (or cancellation) to every invitee, or to ``only`` of them; one
    outbox row per address and SEQUENCE, so the same SEQUENCE never reaches one address twice."""
    mi = review.major_incident
    people = cal.invitees(mi)
    targets = people if only is None else only
    if not targets:
        return 0
    subject, text = _invitation_text(review, method)
    ics = cal.ics(review, method=method, people=people)
    purpose = PURPOSE_CANCEL if method == cal.CANCEL else PURPOSE_INVITE
    enqueue(
        [
            NewMessage(
                channel="email",
                recipient=person.email,
                key=idempotency_key(
                    "pir-meeting", review.pk, review.meeting_sequence, person.email.lower()
                ),
                purpose=purpose,
                subject=subject,
                payload={
                    "subject": subject,
                    "text": text,
                    "calendar": {"method": method, "ics": ics},
                    "mi": {"number": mi.number, "url": cal.war_room_url(mi)},
                },
                major_incident_id=mi.pk,
            )
            for person in targets
        ]
    )
    return len(targets)


# --- Following the MI -----------------------------------------------------------------------------


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


# --- The periodic work ----------------------------------------------------------------------------


def _unscheduled_mis() -> list[int]:
    """MIs whose review meeting does not match their state: resolved without a review, or with
    no meeting or a cancelled one; reopened with a meeting that stands. (Published reviews are
    left alone.)"""
    resolved = (
        MajorIncident.objects.filter(status=MIStatus.RESOLVED, resolved_at__isnull=False)
        .filter(
            Q(pir__isnull=True)
            | Q(pir__meeting_at__isnull=True)
            | Q(pir__meeting_cancelled_at__isnull=False)
        )
        .exclude(pir__status=ReviewStatus.PUBLISHED)
        .values_list("pk", flat=True)
    )
    reopened = MajorIncident.objects.filter(
        status__in=REOPENED,
        pir__meeting_at__isnull=False,
        pir__meeting_cancelled_at__isnull=True,
    ).exclude(pir__status=ReviewStatus.PUBLISHED)
    return sorted({*resolved, *reopened.values_list("pk", flat=True)})


def _reminder_due(now: datetime) -> Q:
    """Reviews owed a reminder now: a meeting that stands, to come within 24 h, whose reminder
    for this meeting time (24 h, or 1 h within the hour) has not gone."""
    soon = Q(
        meeting_at__gt=now,
        meeting_at__lte=now + timedelta(hours=24),
        meeting_cancelled_at__isnull=True,
        major_incident__status=MIStatus.RESOLVED,
    )
    owed_24h = Q(reminded_24h_for__isnull=True) | ~Q(reminded_24h_for=F("meeting_at"))
    owed_1h = Q(meeting_at__lte=now + timedelta(hours=1)) & (
        Q(reminded_1h_for__isnull=True) | ~Q(reminded_1h_for=F("meeting_at"))
    )
    return soon & (owed_24h | owed_1h)


def _overdue(now: datetime) -> Q:
    return Q(
        publish_due_at__lte=now,
        overdue_flagged_at__isnull=True,
        major_incident__status=MIStatus.RESOLVED,
    )


def _unpublished() -> Any:
    return PostIncidentReview.objects.exclude(status=ReviewStatus.PUBLISHED)


def _claim(review_id: int, condition: Q) -> PostIncidentReview | None:
    """The review, locked, if it still needs the work and no other scheduler holds it (on
    PostgreSQL the locked row is re-read and ``condition`` checked again on its latest version;
    SQLite serialises writers and ignores the clause)."""
    return (
        _unpublished()
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("major_incident__incident")
        .filter(condition, pk=review_id)
        .first()
    )


def _send_reminder(review: PostIncidentReview, which: str) -> int:
    mi = review.major_incident
    assert review.meeting_at is not None
    when = _clock(review.meeting_at)
    ahead = "in one hour" if which == "1h" else "tomorrow"
    subject = f"Reminder: post-incident review of {mi.number} {ahead}, {when}"
    text = (
        f"Reminder: the blameless post-incident review of {mi.number} starts {ahead}, at {when} "
        f"({review.meeting_minutes} min).\n\n{cal.description(review)}"
    )
    people = cal.invitees(mi)
    enqueue(
        [
            NewMessage(
                channel="email",
                recipient=person.email,
                key=idempotency_key(
                    "pir-reminder",
                    review.pk,
                    which,
                    review.meeting_at.isoformat(),
                    person.email.lower(),
                ),
                purpose=PURPOSE_REMINDER,
                subject=subject,
                payload={
                    "subject": subject,
                    "text": text,
                    "mi": {"number": mi.number, "url": cal.war_room_url(mi)},
                },
                major_incident_id=mi.pk,
            )
            for person in people
        ]
    )
    return len(people)


def _remind(review_id: int, now: datetime) -> str:
    """One review's reminder, claimed: the 1 h one when within the hour (the 24 h one is then
    marked done for this meeting time: after a beat outage only the one still meaningful goes),
    else the 24 h one; the meeting time it went for recorded with the outbox rows."""
    with transaction.atomic():
        review = _claim(review_id, _reminder_due(now))
        if review is None:
            return ""
        assert review.meeting_at is not None
        if review.meeting_at <= now + timedelta(hours=1):
            which = "1h"
            review.reminded_1h_for = review.meeting_at
            review.reminded_24h_for = review.meeting_at
        else:
            which = "24h"
            review.reminded_24h_for = review.meeting_at
        review.save(update_fields=["reminded_24h_for", "reminded_1h_for", "updated_at"])
        _send_reminder(review, which)
        return which


def _managers() -> list[Any]:
    return list(
        User.objects.filter(groups__name=MANAGERS_GROUP, is_active=True)
        .exclude(email="")
        .order_by("pk")
        .distinct()
    )


def _flag_overdue(review_id: int, now: datetime) -> bool:
    """A review past its publish deadline, unpublished: flagged once, a timeline row, one email
    to the IC and each ITSM manager."""
    with transaction.atomic():
        review = _claim(review_id, _overdue(now))
        if review is None:
            return False
        mi = review.major_incident
        review.overdue_flagged_at = now
        review.save(update_fields=["overdue_flagged_at", "updated_at"])
        assert review.publish_due_at is not None
        due = _clock(review.publish_due_at)
        record(
            mi.incident,
            TimelineKind.REVIEW,
            f"Post-incident review overdue: it was due to be published by {due}",
            major_incident=mi,
            data={"review": review.pk, "overdue": True, "publish_due_at": due},
        )
        addresses: dict[str, str] = {}
        for person in cal.invitees(mi):
            if person.role == "CHAIR":
                addresses[person.email.lower()] = person.email
        for user in _managers():
            addresses.setdefault(user.email.lower(), user.email)
        subject = f"Overdue: the post-incident review of {mi.number} is not published"
        text = (
            f"The post-incident review of {mi.number} ({mi.incident.short_description}) was due "
            f"to be published by {due} and is still {review.get_status_display().lower()}. "
            f"{mi.number} cannot close until it is published.\n\n"
            f"Review document: {cal.review_url(mi)}"
        )
        enqueue(
            [
                NewMessage(
                    channel="email",
                    recipient=address,
                    key=idempotency_key("pir-overdue", review.pk, key),
                    purpose=PURPOSE_OVERDUE,
                    subject=subject,
                    payload={
                        "subject": subject,
                        "text": text,
                        "mi": {"number": mi.number, "url": cal.war_room_url(mi)},
                    },
                    major_incident_id=mi.pk,
                )
                for key, address in sorted(addresses.items())
            ]
        )
        return True


def schedule_due_reviews(*, now: datetime | None = None) -> dict[str, int]:
    """Every 15 minutes, from the database: meetings the receivers missed (scheduled or
    cancelled), reminders 24 h and 1 h before, overdue flags. Idempotent and safe twice at
    once: each review is claimed in its own short transaction, and what was sent is recorded on
    the review row in the same transaction as its outbox rows."""
    now = now or timezone.now()
    counts = {"scheduled": 0, "cancelled": 0, "reminded_24h": 0, "reminded_1h": 0, "overdue": 0}
    for mi_id in _unscheduled_mis():
        done = sync_meeting(mi_id)
        if done:
            counts[done] += 1
    for review_id in _unpublished().filter(_reminder_due(now)).values_list("pk", flat=True):
        which = _remind(review_id, now)
        if which:
            counts[f"reminded_{which}"] += 1
    for review_id in _unpublished().filter(_overdue(now)).values_list("pk", flat=True):
        if _flag_overdue(review_id, now):
            counts["overdue"] += 1
    return counts
