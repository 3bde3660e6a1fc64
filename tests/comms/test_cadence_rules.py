"""``send_due_updates``' rules one by one: what is due when, what a security MI does, what it
does with nobody to tell, and that running it again does nothing new."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from freezegun import freeze_time

from comms import services
from comms.models import (
    CommsState,
    MessageTemplate,
    OutboxMessage,
    StakeholderUpdate,
    UpdateStatus,
)
from comms.tasks import send_due_updates
from incidents import services as incident_services
from incidents.models import MajorIncident, MIStatus, RaciRole, TimelineEntry
from tests.conftest import make_user
from tests.incidents.mi_fixtures import T0, declare

pytestmark = pytest.mark.django_db


def tick(committed: Any) -> dict[str, int]:
    with committed():
        return services.send_due_updates()


def declared(p1: Any, alice: Any, committed: Any, **fields: Any) -> MajorIncident:
    with committed():
        return declare(p1, alice, **fields)


def with_email(user: Any, email: str) -> Any:
    user.email = email
    user.save(update_fields=["email"])
    return user


def test_the_task_runs_the_cadence(p1: Any, alice: Any, leadership: Any, committed: Any) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        clock.move_to(T0 + timedelta(minutes=30))
        with committed():
            done = send_due_updates.delay().get()
    assert done["cadence"] == 1
    assert StakeholderUpdate.objects.filter(major_incident=mi, update_type="cadence").count() == 1


def test_nothing_is_due_before_its_time(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        declared(p1, alice, committed)
        seen = len(mail.outbox)
        for minutes in (1, 10, 24):
            clock.move_to(T0 + timedelta(minutes=minutes))
            assert set(tick(committed).values()) == {0}
    assert len(mail.outbox) == seen


def test_the_reminder_goes_once_per_due_time_and_again_for_the_next(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    carol = with_email(make_user("usr_carol_comms", "technician"), "carol@example.test")
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        incident_services.assign_role(
            mi=mi, actor=alice, role=RaciRole.COMMUNICATIONS_LEAD, user=carol
        )
        for minutes, expected in ((25, 1), (26, 0), (29, 0), (30, 0), (55, 1), (57, 0)):
            clock.move_to(T0 + timedelta(minutes=minutes))
            assert tick(committed)["reminders"] == expected, minutes
    reminders = OutboxMessage.objects.filter(major_incident=mi, purpose="reminder")
    assert sorted(reminders.values_list("recipient", flat=True)) == [
        "carol@example.test",
        "carol@example.test",
    ]
    state = CommsState.objects.get(major_incident=mi)
    assert state.reminder_sent_for == T0 + timedelta(minutes=60)


def test_a_person_sending_before_the_due_time_means_no_automatic_update(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        clock.move_to(T0 + timedelta(minutes=20))
        with committed():
            update = services.create_update(
                mi=mi,
                actor=alice,
                update_type="cadence",
                current_impact="Checkout is slow",
                current_action="Scaling out",
                user_action="None",
                next_update_at=T0 + timedelta(minutes=45),
            )
            services.send_update(update=update, actor=alice)
        clock.move_to(T0 + timedelta(minutes=30))
        assert tick(committed)["cadence"] == 0
        clock.move_to(T0 + timedelta(minutes=45))
        assert tick(committed)["cadence"] == 1
    automatic = StakeholderUpdate.objects.get(
        major_incident=mi, automatic=True, slot__isnull=False, update_type="cadence"
    )
    assert automatic.slot == "cadence:2025-03-03T09:45:00+00:00"


def test_a_draft_nobody_sent_does_not_stop_the_automatic_update(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        services.create_update(
            mi=mi,
            actor=alice,
            update_type="cadence",
            current_impact="x",
            current_action="y",
            user_action="z",
            next_update_at=T0 + timedelta(minutes=60),
        )
        clock.move_to(T0 + timedelta(minutes=31))
        assert tick(committed)["cadence"] == 1


def test_a_security_mi_waits_for_legal_and_its_clock_moves_on(
    p1: Any, alice: Any, lee: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed, is_security=True)
        clock.move_to(T0 + timedelta(minutes=30))
        assert tick(committed)["cadence"] == 0
        first = StakeholderUpdate.objects.get(major_incident=mi, update_type="cadence")
        assert first.status == UpdateStatus.PENDING_APPROVAL and first.automatic
        mi.refresh_from_db()
        assert mi.next_update_due_at == T0 + timedelta(minutes=60)
        assert tick(committed)["cadence"] == 0
        assert (
            StakeholderUpdate.objects.filter(major_incident=mi, update_type="cadence").count() == 1
        )
        # The next slot: a fresh automatic update; the stale one no longer waits for legal.
        clock.move_to(T0 + timedelta(minutes=61))
        tick(committed)
        first.refresh_from_db()
        assert first.status == UpdateStatus.DISCARDED
        latest = StakeholderUpdate.objects.get(
            major_incident=mi, update_type="cadence", status=UpdateStatus.PENDING_APPROVAL
        )
        assert latest.slot == "cadence:2025-03-03T10:00:00+00:00"
        assert "Security incident update" in latest.subject
        # Nothing left: no stakeholder heard a thing.
        assert mail.outbox == []
        assert not OutboxMessage.objects.filter(major_incident=mi, update__isnull=False).exists()
        # Legal approves, carol's colleague sends: delivered; sending moves the clock.
        lee.groups.add(*Group.objects.filter(name="itsm_manager"))  # may send updates too
        with committed():
            services.approve_update(update=latest, actor=lee)
            services.send_update(update=latest, actor=alice)
        assert sorted(m.to[0] for m in mail.outbox) == ["cio@example.test", "cto@example.test"]
        mi.refresh_from_db()
        assert mi.next_update_due_at == T0 + timedelta(minutes=61 + 30)


def test_the_executive_update_needs_someone_to_tell(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        clock.move_to(T0 + timedelta(minutes=60))
        assert tick(committed)["executive"] == 0
        assert not StakeholderUpdate.objects.filter(major_incident=mi, update_type="executive")
        # The clock moved on all the same: the sponsor named now hears at the next hour.
        state = CommsState.objects.get(major_incident=mi)
        assert state.next_executive_due_at == T0 + timedelta(minutes=120)
        erin = with_email(make_user("usr_erin_exec"), "erin@example.test")
        incident_services.assign_role(
            mi=mi, actor=alice, role=RaciRole.EXECUTIVE_SPONSOR, user=erin
        )
        clock.move_to(T0 + timedelta(minutes=120))
        seen = len(mail.outbox)
        assert tick(committed)["executive"] == 1
        assert tick(committed)["executive"] == 0
    assert [m.to for m in mail.outbox[seen:] if "Executive" in m.subject] == [["erin@example.test"]]
    executive = StakeholderUpdate.objects.get(major_incident=mi, update_type="executive")
    assert executive.slot == "executive:2025-03-03T11:00:00+00:00"
    assert not executive.is_public
    assert executive.next_update_at == T0 + timedelta(minutes=180)


def test_an_mi_without_a_communication_clock_gets_one(p1: Any, alice: Any, committed: Any) -> None:
    """Declared while comms' receivers failed (or before comms existed)."""
    with freeze_time(T0) as clock:
        mi = declare(p1, alice)  # no commit: no receivers
        assert not CommsState.objects.filter(major_incident=mi).exists()
        clock.move_to(T0 + timedelta(minutes=1))
        tick(committed)
    assert CommsState.objects.get(major_incident=mi).next_executive_due_at == T0 + timedelta(
        hours=1
    )


def test_a_declaration_whose_receivers_failed_gets_its_initial_notification_once(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declare(p1, alice)  # no commit: the declaration's receivers never ran
        clock.move_to(T0 + timedelta(minutes=1))
        assert tick(committed)["initial_caught_up"] == 1
        assert sorted(m.to[0] for m in mail.outbox) == ["cio@example.test", "cto@example.test"]
        clock.move_to(T0 + timedelta(minutes=2))
        assert tick(committed)["initial_caught_up"] == 0
    assert len(mail.outbox) == 2
    assert StakeholderUpdate.objects.filter(major_incident=mi, slot="initial").count() == 1


def test_an_old_mi_without_a_clock_is_not_sent_a_late_initial_notification(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    """Declared before comms existed (or its receivers failed long ago): the cadence update,
    due by now, speaks for it; a first "initial" notification an hour late would mislead."""
    with freeze_time(T0) as clock:
        mi = declare(p1, alice)
        clock.move_to(T0 + timedelta(minutes=45))
        assert tick(committed)["initial_caught_up"] == 0
    assert not StakeholderUpdate.objects.filter(major_incident=mi, slot="initial").exists()
    assert CommsState.objects.filter(major_incident=mi).exists()


def test_without_a_pre_approved_template_nothing_goes_and_the_timeline_says_so(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    MessageTemplate.objects.filter(update_type="cadence").update(pre_approved=False)
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        seen = len(mail.outbox)
        clock.move_to(T0 + timedelta(minutes=30))
        assert tick(committed)["cadence"] == 0
        assert tick(committed)["cadence"] == 0
    assert len(mail.outbox) == seen
    rows = TimelineEntry.objects.filter(major_incident=mi, data__missing_template=True)
    assert rows.count() == 1
    mi.refresh_from_db()
    assert mi.next_update_due_at == T0 + timedelta(minutes=60)


def test_the_cadence_stops_at_resolution_and_the_all_clear_waits_for_recovery(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        with committed():
            incident_services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
        clock.move_to(T0 + timedelta(minutes=16))
        with committed():
            incident_services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
        for minutes in (30, 60, 135):
            clock.move_to(T0 + timedelta(minutes=minutes))
            assert set(tick(committed).values()) == {0}, minutes
        clock.move_to(T0 + timedelta(minutes=136))
        assert tick(committed)["all_clear"] == 1
        # Closed later: nothing more.
        clock.move_to(T0 + timedelta(minutes=300))
        assert tick(committed)["all_clear"] == 0
    slots = list(
        StakeholderUpdate.objects.filter(major_incident=mi).values_list("update_type", flat=True)
    )
    assert "cadence" not in slots and "executive" not in slots
    assert slots.count("all_clear") == 1


def test_a_cancelled_mi_has_no_cadence(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        with committed():
            incident_services.transition_major_incident(
                mi=mi, to=MIStatus.CANCELLED, actor=alice, reason="declared in error"
            )
        clock.move_to(T0 + timedelta(hours=5))
        assert set(tick(committed).values()) == {0}


def test_one_mi_that_fails_leaves_the_others_their_updates(
    make_incident: Any, alice: Any, leadership: Any, committed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from comms.services import cadence

    with freeze_time(T0) as clock:
        broken = declared(make_incident(impact=1, urgency=1), alice, committed)
        fine = declared(make_incident(impact=1, urgency=1), alice, committed)
        real = cadence.from_template

        def from_template(*, mi: MajorIncident, **kwargs: Any) -> Any:
            if mi.pk == broken.pk:
                raise RuntimeError("template edited into one that breaks")
            return real(mi=mi, **kwargs)

        monkeypatch.setattr(cadence, "from_template", from_template)
        clock.move_to(T0 + timedelta(minutes=30))
        done = tick(committed)
        assert (done["cadence"], done["failed"]) == (1, 1)
        assert StakeholderUpdate.objects.filter(major_incident=fine, update_type="cadence").exists()
        broken.refresh_from_db()
        assert broken.next_update_due_at == T0 + timedelta(minutes=30)  # rolled back: retried
        monkeypatch.setattr(cadence, "from_template", real)
        clock.move_to(T0 + timedelta(minutes=31))
        assert tick(committed)["cadence"] == 1
