"""The review's schedule, clock frozen: the meeting at resolved + 48 h with an iCalendar
invitation to the IC and every role holder, reminders once each, a catch-up after a failed
receiver, overdue flagged once, rescheduling (same UID, SEQUENCE + 1), reopen → CANCEL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from freezegun import freeze_time
from icalendar import Calendar

from comms.models import OutboxMessage
from incidents import services as incident_services
from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import MIStatus, RaciRole, TimelineKind
from pir.models import PostIncidentReview
from pir.services import scheduling
from tests.conftest import make_user
from tests.pir.conftest import T0, declare, force_status, fresh, resolve

pytestmark = pytest.mark.django_db

RESOLVED_AT = T0 + timedelta(hours=1)
MEETING_AT = RESOLVED_AT + timedelta(hours=48)


def _with_email(user: Any, address: str) -> Any:
    user.email = address
    user.save(update_fields=["email"])
    return fresh(user)


@pytest.fixture
def team(p1: Any, alice: Any) -> dict[str, Any]:
    """A P1 declared at T0 with a bridge, alice its IC; bob technical lead, pat problem
    manager, nora scribe without an address; all before resolution."""
    alice = _with_email(alice, "alice@example.test")
    with freeze_time(T0):
        mi = declare(p1, alice, bridge_link="https://bridge.example.test/mi")
        bob = _with_email(make_user("usr_bob_tech", "technician"), "bob@example.test")
        pat = _with_email(make_user("usr_pat_problem", "technician"), "pat@example.test")
        nora = make_user("usr_nora_scribe", "technician")
        for role, user in (
            (RaciRole.TECHNICAL_LEAD, bob),
            (RaciRole.PROBLEM_MANAGER, pat),
            (RaciRole.SCRIBE, nora),
        ):
            incident_services.assign_role(mi=mi, actor=alice, role=role, user=user)
    return {"mi": mi, "alice": alice, "bob": bob, "pat": pat}


@pytest.fixture
def review(team: dict[str, Any], committed: Any) -> PostIncidentReview:
    mail.outbox.clear()
    resolve(team["mi"], team["alice"], committed, at=RESOLVED_AT)
    return PostIncidentReview.objects.get(major_incident=team["mi"])


def _ics(message: OutboxMessage) -> Calendar:
    return Calendar.from_ical(message.payload["calendar"]["ics"])


def _event(calendar: Calendar) -> Any:
    (event,) = calendar.walk("VEVENT")
    return event


def _attendees(event: Any) -> list[str]:
    values = event.get("attendee")
    values = values if isinstance(values, list) else [values]
    return sorted(str(v).removeprefix("mailto:") for v in values)


def test_resolution_schedules_the_meeting_48_hours_later_and_invites_each_role_holder(
    review: PostIncidentReview, team: dict[str, Any]
) -> None:
    assert review.meeting_at == MEETING_AT
    assert review.meeting_location == "https://bridge.example.test/mi"
    assert review.publish_due_at == RESOLVED_AT + timedelta(days=5)
    assert review.meeting_sequence == 0
    invites = OutboxMessage.objects.filter(purpose="pir_invitation").order_by("recipient")
    assert [m.recipient for m in invites] == [
        "alice@example.test",
        "bob@example.test",
        "pat@example.test",
    ]
    # Delivered after commit, each with its calendar part.
    assert sorted(m.to[0] for m in mail.outbox) == [m.recipient for m in invites]
    assert all(m.status == "sent" for m in invites)
    assert team["mi"].timeline.filter(kind=TimelineKind.REVIEW).count() == 1


def test_the_invitation_parses_back_with_its_time_attendees_uid_sequence_and_method(
    review: PostIncidentReview,
) -> None:
    message = OutboxMessage.objects.filter(purpose="pir_invitation").first()
    assert message is not None
    assert message.payload["calendar"]["method"] == "REQUEST"
    calendar = _ics(message)
    assert str(calendar["method"]) == "REQUEST"
    assert str(calendar["version"]) == "2.0" and "MIM Desk" in str(calendar["prodid"])
    event = _event(calendar)
    assert event.decoded("dtstart") == MEETING_AT
    assert event.decoded("dtend") == MEETING_AT + timedelta(minutes=60)
    assert str(event["uid"]) == review.ical_uid
    assert int(event["sequence"]) == 0
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["location"]) == "https://bridge.example.test/mi"
    assert str(event["organizer"]) == "mailto:major-incidents@localhost"
    assert _attendees(event) == ["alice@example.test", "bob@example.test", "pat@example.test"]
    chair = next(a for a in event["attendee"] if "alice" in str(a))
    assert chair.params["ROLE"] == "CHAIR" and chair.params["PARTSTAT"] == "NEEDS-ACTION"
    assert chair.params["RSVP"] == "TRUE"
    mi = review.major_incident
    assert f"/war-rooms/{mi.number}/" in str(event["description"])


def test_the_signal_sent_twice_schedules_once(review: PostIncidentReview, committed: Any) -> None:
    mi = review.major_incident
    with freeze_time(RESOLVED_AT + timedelta(minutes=5)), committed():
        scheduling.major_incident_state_changed(mi.pk, MIStatus.MONITORING, MIStatus.RESOLVED)
        assert scheduling.schedule_due_reviews() == {
            "scheduled": 0,
            "cancelled": 0,
            "reminded_24h": 0,
            "reminded_1h": 0,
            "overdue": 0,
        }
    assert OutboxMessage.objects.filter(purpose="pir_invitation").count() == 3
    assert mi.timeline.filter(kind=TimelineKind.REVIEW).count() == 1


def _ticks(start: Any, end: Any) -> list[dict[str, int]]:
    """schedule_due_reviews every 15 minutes from ``start`` to ``end``, as beat runs it."""
    results = []
    moment = start
    while moment <= end:
        with freeze_time(moment):
            results.append(scheduling.schedule_due_reviews())
        moment += timedelta(minutes=15)
    return results


def test_each_reminder_goes_once_across_repeated_ticks(
    review: PostIncidentReview, committed: Any
) -> None:
    with committed():
        results = _ticks(RESOLVED_AT, MEETING_AT + timedelta(hours=2))
        with freeze_time(MEETING_AT - timedelta(minutes=30)):
            scheduling.schedule_due_reviews()  # a second beat, late
    assert sum(r["reminded_24h"] for r in results) == 1
    assert sum(r["reminded_1h"] for r in results) == 1
    reminders = OutboxMessage.objects.filter(purpose="pir_reminder")
    assert reminders.count() == 6  # two reminders × three invitees
    review.refresh_from_db()
    assert review.reminded_24h_for == review.reminded_1h_for == MEETING_AT
    # The 24 h reminder went on the first tick within 24 h of the meeting, the 1 h one on the
    # first tick within the hour.
    first_24h = next(i for i, r in enumerate(results) if r["reminded_24h"])
    first_1h = next(i for i, r in enumerate(results) if r["reminded_1h"])
    assert RESOLVED_AT + timedelta(minutes=15 * first_24h) == MEETING_AT - timedelta(hours=24)
    assert RESOLVED_AT + timedelta(minutes=15 * first_1h) == MEETING_AT - timedelta(hours=1)


def test_after_a_beat_outage_only_the_one_hour_reminder_goes(
    review: PostIncidentReview, committed: Any
) -> None:
    with freeze_time(MEETING_AT - timedelta(minutes=40)), committed():
        first = scheduling.schedule_due_reviews()
        again = scheduling.schedule_due_reviews()
    assert (first["reminded_24h"], first["reminded_1h"]) == (0, 1)
    assert again["reminded_1h"] == again["reminded_24h"] == 0
    subjects = set(OutboxMessage.objects.filter(purpose="pir_reminder").values_list("subject"))
    assert len(subjects) == 1 and "in one hour" in next(iter(subjects))[0]
    review.refresh_from_db()
    assert review.reminded_24h_for == MEETING_AT  # marked done: never sent late


def test_no_reminder_after_the_meeting_started_or_for_a_cancelled_meeting(
    review: PostIncidentReview, committed: Any
) -> None:
    with freeze_time(MEETING_AT + timedelta(minutes=1)):
        assert scheduling.schedule_due_reviews()["reminded_1h"] == 0
    # Reopened and cancelled (the catch-up would set a cancelled meeting of a resolved MI again).
    force_status(review.major_incident, MIStatus.INVESTIGATING)
    PostIncidentReview.objects.filter(pk=review.pk).update(meeting_cancelled_at=RESOLVED_AT)
    with freeze_time(MEETING_AT - timedelta(minutes=30)):
        done = scheduling.schedule_due_reviews()
    assert done["reminded_1h"] == done["reminded_24h"] == 0
    assert not OutboxMessage.objects.filter(purpose="pir_reminder").exists()


def test_a_resolved_mi_whose_receiver_failed_is_caught_up_once(
    team: dict[str, Any], committed: Any, listen: Any
) -> None:
    mi, alice = team["mi"], team["alice"]
    # Resolved without the after-commit receivers (as if the PIR's had failed).
    with freeze_time(RESOLVED_AT - timedelta(minutes=30)):
        incident_services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
    with freeze_time(RESOLVED_AT):
        incident_services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
    assert not PostIncidentReview.objects.filter(major_incident=mi).exists()
    with freeze_time(RESOLVED_AT + timedelta(hours=3)), committed():
        first = scheduling.schedule_due_reviews()
        second = scheduling.schedule_due_reviews()
    assert first["scheduled"] == 1 and second["scheduled"] == 0
    review = PostIncidentReview.objects.get(major_incident=mi)
    assert review.meeting_at == MEETING_AT  # from the resolution, not from the catch-up
    assert OutboxMessage.objects.filter(purpose="pir_invitation").count() == 3


def test_an_overdue_review_is_flagged_once_and_its_ic_and_managers_told(
    review: PostIncidentReview, committed: Any
) -> None:
    make_user("usr_mia_manager", "itsm_manager").__class__.objects.filter(
        username="usr_mia_manager"
    ).update(email="mia@example.test")
    deadline = RESOLVED_AT + timedelta(days=5)
    with committed():
        with freeze_time(deadline - timedelta(minutes=1)):
            assert scheduling.schedule_due_reviews()["overdue"] == 0
        results = _ticks(deadline, deadline + timedelta(hours=1))
    assert sum(r["overdue"] for r in results) == 1
    review.refresh_from_db()
    assert review.overdue_flagged_at == deadline
    overdue = OutboxMessage.objects.filter(purpose="pir_overdue")
    # alice is the IC and an ITSM manager: one email to her, one to mia.
    assert sorted(overdue.values_list("recipient", flat=True)) == [
        "alice@example.test",
        "mia@example.test",
    ]
    rows = review.major_incident.timeline.filter(kind=TimelineKind.REVIEW, data__overdue=True)
    assert rows.count() == 1


def test_rescheduling_keeps_the_uid_and_raises_the_sequence(
    review: PostIncidentReview, team: dict[str, Any], committed: Any
) -> None:
    later = MEETING_AT + timedelta(days=1)
    with freeze_time(RESOLVED_AT + timedelta(hours=2)), committed():
        scheduling.reschedule_meeting(
            review=review, actor=team["alice"], meeting_at=later, minutes=90
        )
        # The same request again: nothing more is sent.
        scheduling.reschedule_meeting(
            review=review, actor=team["alice"], meeting_at=later, minutes=90
        )
    review.refresh_from_db()
    assert (review.meeting_at, review.meeting_minutes, review.meeting_sequence) == (later, 90, 1)
    updated = OutboxMessage.objects.filter(purpose="pir_invitation").order_by("-id")[:3]
    assert len(updated) == 3 and OutboxMessage.objects.filter(purpose="pir_invitation").count() == 6
    event = _event(_ics(updated[0]))
    assert str(event["uid"]) == review.ical_uid and int(event["sequence"]) == 1
    assert event.decoded("dtstart") == later
    assert str(_ics(updated[0])["method"]) == "REQUEST"
    # Reminders are due again for the new time (the old time's went nowhere).
    with freeze_time(later - timedelta(hours=23)):
        assert scheduling.schedule_due_reviews()["reminded_24h"] == 1


def test_reschedule_refuses_bad_input_naming_the_field(
    review: PostIncidentReview, team: dict[str, Any], tina: Any
) -> None:
    from datetime import datetime

    alice = team["alice"]
    with freeze_time(RESOLVED_AT + timedelta(hours=2)):
        for meeting_at, minutes, field in (
            (datetime(2025, 3, 6, 10, 0), None, "meeting_at"),  # noqa: DTZ001 (naive on purpose)
            (RESOLVED_AT, None, "meeting_at"),
            ("tomorrow", None, "meeting_at"),
            (MEETING_AT + timedelta(days=400), None, "meeting_at"),
            (MEETING_AT, 0, "minutes"),
            (MEETING_AT, "60", "minutes"),
            (MEETING_AT, True, "minutes"),
        ):
            with pytest.raises(DomainError) as error:
                scheduling.reschedule_meeting(
                    review=review, actor=alice, meeting_at=meeting_at, minutes=minutes
                )
            assert error.value.field == field and error.value.status_code == 400
        with pytest.raises(NotAllowed):
            scheduling.reschedule_meeting(review=review, actor=team["bob"], meeting_at=MEETING_AT)
        with pytest.raises(NotAllowed):
            scheduling.reschedule_meeting(review=review, actor=tina, meeting_at=MEETING_AT)


def test_a_published_reviews_meeting_is_not_moved(
    review: PostIncidentReview, team: dict[str, Any]
) -> None:
    PostIncidentReview.objects.filter(pk=review.pk).update(status="published")
    with freeze_time(RESOLVED_AT + timedelta(hours=2)), pytest.raises(Conflict):
        scheduling.reschedule_meeting(
            review=review, actor=team["alice"], meeting_at=MEETING_AT + timedelta(hours=1)
        )


def test_reopening_cancels_and_resolving_again_reschedules_the_same_event(
    review: PostIncidentReview, team: dict[str, Any], committed: Any
) -> None:
    mi, alice = team["mi"], team["alice"]
    with freeze_time(RESOLVED_AT + timedelta(hours=2)), committed():
        incident_services.transition_major_incident(mi=mi, to=MIStatus.INVESTIGATING, actor=alice)
    review.refresh_from_db()
    assert review.meeting_cancelled_at is not None and review.meeting_sequence == 1
    cancels = OutboxMessage.objects.filter(purpose="pir_cancellation")
    assert cancels.count() == 3
    calendar = _ics(cancels.first())
    assert str(calendar["method"]) == "CANCEL"
    event = _event(calendar)
    assert str(event["status"]) == "CANCELLED" and int(event["sequence"]) == 1
    assert str(event["uid"]) == review.ical_uid
    cancelled_mail = [m for m in mail.outbox if m.subject.startswith("Cancelled")]
    assert len(cancelled_mail) == 3
    # No reminders for a cancelled meeting.
    with freeze_time(MEETING_AT - timedelta(minutes=30)):
        assert scheduling.schedule_due_reviews()["reminded_1h"] == 0

    again = RESOLVED_AT + timedelta(hours=4)
    mi.refresh_from_db()
    resolve(mi, alice, committed, at=again)
    review.refresh_from_db()
    assert review.meeting_cancelled_at is None
    assert review.meeting_at == again + timedelta(hours=48)
    assert review.meeting_sequence == 2
    assert review.publish_due_at == again + timedelta(days=5)
    newest = OutboxMessage.objects.filter(purpose="pir_invitation").order_by("-id").first()
    event = _event(_ics(newest))
    assert str(event["uid"]) == review.ical_uid and int(event["sequence"]) == 2
    assert str(event["status"]) == "CONFIRMED"


def test_a_role_assigned_after_the_invitations_gets_the_current_one(
    review: PostIncidentReview, team: dict[str, Any], committed: Any
) -> None:
    carl = _with_email(make_user("usr_carl_change", "technician"), "carl@example.test")
    with freeze_time(RESOLVED_AT + timedelta(hours=1)), committed():
        incident_services.assign_role(
            mi=team["mi"], actor=team["alice"], role=RaciRole.CHANGE_MANAGER, user=carl
        )
    (message,) = OutboxMessage.objects.filter(purpose="pir_invitation", recipient=carl.email)
    event = _event(_ics(message))
    assert int(event["sequence"]) == 0 and "carl@example.test" in _attendees(event)


def test_an_mi_without_addresses_still_gets_its_meeting(
    p1: Any, alice: Any, committed: Any
) -> None:
    with freeze_time(T0):
        mi = declare(p1, alice)
    resolve(mi, alice, committed, at=RESOLVED_AT)
    review = PostIncidentReview.objects.get(major_incident=mi)
    assert review.meeting_at == MEETING_AT and review.meeting_location == ""
    assert not OutboxMessage.objects.filter(purpose="pir_invitation").exists()
