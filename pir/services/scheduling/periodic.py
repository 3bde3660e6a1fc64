"""The every-15-minutes work (``pir.tasks.schedule_due_reviews``): meetings the receivers
missed, reminders 24 h and 1 h before, overdue flags; each review claimed in its own short
transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from comms.services import enqueue, idempotency_key
from incidents.models import MajorIncident, MIStatus, TimelineKind
from incidents.services import record

from ...models import PostIncidentReview, ReviewStatus
from ...selectors import calendar as cal
from ...selectors.reviews import review_link
from .common import (
    MANAGERS_GROUP,
    PURPOSE_OVERDUE,
    PURPOSE_REMINDER,
    REOPENED,
    User,
    _clock,
    _mail,
)
from .meeting import sync_meeting


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
            _mail(
                mi,
                person.email,
                key=idempotency_key(
                    "pir-reminder",
                    review.pk,
                    which,
                    review.meeting_at.isoformat(),
                    person.email.lower(),
                ),
                purpose=PURPOSE_REMINDER,
                subject=subject,
                text=text,
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
            f"Review document: {review_link(mi)}"
        )
        enqueue(
            [
                _mail(
                    mi,
                    address,
                    key=idempotency_key("pir-overdue", review.pk, key),
                    purpose=PURPOSE_OVERDUE,
                    subject=subject,
                    text=text,
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
