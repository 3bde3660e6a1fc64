"""What the meeting's services share: the MI states the meeting follows, the outbox
purposes, and the invitation (or cancellation) to every invitee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model

from comms.services import NewMessage, enqueue, idempotency_key
from incidents.models import MajorIncident, MIStatus

from ...models import PostIncidentReview
from ...selectors import calendar as cal

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
PURPOSES = (PURPOSE_INVITE, PURPOSE_CANCEL, PURPOSE_REMINDER, PURPOSE_OVERDUE)


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


def _mail(
    mi: MajorIncident,
    address: str,
    *,
    key: str,
    purpose: str,
    subject: str,
    text: str,
    **extra: Any,
) -> NewMessage:
    """One email of the review's (invitation, reminder, overdue notice) as an outbox row of the
    MI's, linking its war room."""
    return NewMessage(
        channel="email",
        recipient=address,
        key=key,
        purpose=purpose,
        subject=subject,
        payload={
            "subject": subject,
            "text": text,
            **extra,
            "mi": {"number": mi.number, "url": cal.war_room_url(mi)},
        },
        major_incident_id=mi.pk,
    )


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
            _mail(
                mi,
                person.email,
                key=idempotency_key(
                    "pir-meeting", review.pk, review.meeting_sequence, person.email.lower()
                ),
                purpose=purpose,
                subject=subject,
                text=text,
                calendar={"method": method, "ics": ics},
            )
            for person in targets
        ]
    )
    return len(targets)
