"""The review meeting as iCalendar (RFC 5545 / iTIP RFC 5546), built with ``icalendar``.

One VEVENT per invitation, the same UID (``review.ical_uid``) in the first invitation, every
update and the cancellation; SEQUENCE is ``review.meeting_sequence``, raised by every change of
time and by the cancellation, so calendar clients replace the event instead of adding another.
Who is invited is read here too (``invitees``): the scheduling service and the .ics download
list the same people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from comms.selectors.messages import war_room_url
from incidents.models import MajorIncident, RaciRole
from incidents.selectors import active_roles

from ..models import PostIncidentReview
from .reviews import review_link

User = get_user_model()

PRODID = "-//MIM Desk//Post-incident review//EN"
REQUEST, CANCEL = "REQUEST", "CANCEL"
IC = RaciRole.MAJOR_INCIDENT_MANAGER


@dataclass(frozen=True)
class Invitee:
    email: str
    name: str
    # iCalendar ROLE: the incident commander chairs the review, everyone else is required.
    role: str
    user_id: int


def invitees(mi: MajorIncident) -> list[Invitee]:
    """The IC and every active role holder (the problem manager included) who has an email
    address, each address once (one person holding two roles is invited once, as the IC if
    they are the IC), the IC first."""
    by_address: dict[str, Invitee] = {}
    for row in sorted(active_roles(mi), key=lambda r: (r.role != IC, r.pk)):
        address = (row.user.email or "").strip()
        if not address or address.lower() in by_address:
            continue
        by_address[address.lower()] = Invitee(
            email=address,
            name=row.user.get_full_name() or row.user.username,
            role="CHAIR" if row.role == IC else "REQ-PARTICIPANT",
            user_id=row.user.pk,
        )
    return list(by_address.values())


def meeting_end(review: PostIncidentReview) -> datetime | None:
    if review.meeting_at is None:
        return None
    return review.meeting_at + timedelta(minutes=review.meeting_minutes)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def summary(review: PostIncidentReview) -> str:
    mi = review.major_incident
    return f"Post-incident review: {mi.number} {mi.incident.short_description}"[:250]


def description(review: PostIncidentReview) -> str:
    mi = review.major_incident
    lines = [
        f"Blameless post-incident review of {mi.number}: {mi.incident.short_description}",
        "",
        f"Review document: {review_link(mi)}",
        f"War room: {war_room_url(mi)}",
    ]
    if review.meeting_location:
        lines.append(f"Bridge: {review.meeting_location}")
    return "\n".join(lines)


def ics(
    review: PostIncidentReview,
    *,
    method: str = REQUEST,
    people: list[Invitee] | None = None,
    now: datetime | None = None,
) -> str:
    """The invitation (``REQUEST``) or cancellation (``CANCEL``) of the review's meeting as
    iCalendar text. ``people`` defaults to the MI's invitees now."""
    if review.meeting_at is None:
        raise ValueError("the review has no meeting")
    mi = review.major_incident
    people = invitees(mi) if people is None else people
    cancelled = method == CANCEL or review.meeting_cancelled_at is not None
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", review.ical_uid)
    event.add("sequence", review.meeting_sequence)
    event.add("dtstamp", _utc(now or timezone.now()))
    event.add("dtstart", _utc(review.meeting_at))
    end = meeting_end(review)
    assert end is not None
    event.add("dtend", _utc(end))
    event.add("summary", summary(review))
    event.add("description", description(review))
    if review.meeting_location:
        event.add("location", review.meeting_location)
    organizer = vCalAddress(f"mailto:{settings.MIM_SENDER_EMAIL}")
    organizer.params["cn"] = vText("MIM Desk")
    event.add("organizer", organizer)
    for person in people:
        attendee = vCalAddress(f"mailto:{person.email}")
        attendee.params["cn"] = vText(person.name)
        attendee.params["role"] = vText(person.role)
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        attendee.params["rsvp"] = vText("TRUE")
        event.add("attendee", attendee, encode=False)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical().decode()
