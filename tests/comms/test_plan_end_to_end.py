"""The default communication plan end to end with the clock frozen: declared → the initial
notification to exactly the right people; the reminder, the automatic cadence update, a
person's update moving the clock, the executive sponsor's hour; the state changes on the status
page; resolved → the resolution to everyone who heard before; the all-clear two hours later.

Every step runs through the real services, receivers and the outbox; email through Django's
locmem backend (``mail.outbox``), delivered by the Celery task after commit (eager in tests).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from freezegun import freeze_time

from comms import services
from comms.models import CommsState, OutboxMessage, StakeholderUpdate, UpdateStatus
from incidents import services as incident_services
from incidents.models import (
    MajorIncident,
    MIStatus,
    RaciRole,
    RoleRoster,
    TimelineEntry,
    TimelineKind,
)
from tests.conftest import make_user
from tests.incidents.mi_fixtures import T0, declare

pytestmark = pytest.mark.django_db

LEADERS = ["cio@example.test", "cto@example.test"]


def person(username: str, email: str, *roles: str) -> Any:
    user = make_user(username, *roles)
    user.email = email
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def team(leadership: Any, alice: Any) -> dict[str, Any]:
    """The on-call roster: carol communications lead, erin executive sponsor (I of "Inform
    stakeholders"), sue support lead (C), dan service desk without an address (I, unreachable);
    alice (the commander, A) has an address too and must not hear the stakeholder updates."""
    alice.email = "alice@example.test"
    alice.save(update_fields=["email"])
    people = {
        "carol": person("usr_carol_comms", "carol@example.test", "technician"),
        "erin": person("usr_erin_exec", "erin@example.test"),
        "sue": person("usr_sue_support", "sue@example.test", "technician"),
        "dan": person("usr_dan_desk", "", "technician"),
    }
    for role, name in (
        (RaciRole.COMMUNICATIONS_LEAD, "carol"),
        (RaciRole.EXECUTIVE_SPONSOR, "erin"),
        (RaciRole.SUPPORT_LEAD, "sue"),
        (RaciRole.SERVICE_DESK, "dan"),
    ):
        RoleRoster.objects.create(role=role, user=people[name])
    return people


def sent_to(since: int = 0) -> list[str]:
    """Who received stakeholder mail (the PIR's meeting invitations, sent on resolution to the
    role holders, are the PIR's and tested there)."""
    return sorted(
        address
        for message in mail.outbox[since:]
        if not message.subject.startswith("Invitation: post-incident review")
        for address in message.to
    )


def tick(committed: Any) -> dict[str, int]:
    with committed():
        return services.send_due_updates()


def move(mi: MajorIncident, to: str, actor: Any, committed: Any, **kwargs: Any) -> MajorIncident:
    with committed():
        return incident_services.transition_major_incident(mi=mi, to=to, actor=actor, **kwargs)


def test_the_default_plan_from_declaration_to_the_all_clear(
    p1: Any, alice: Any, team: dict[str, Any], committed: Any
) -> None:
    everyone = sorted([*LEADERS, "erin@example.test", "sue@example.test"])
    with freeze_time(T0) as clock:
        with committed():
            mi = declare(p1, alice)

        # Declared: IT leadership and the C and I holders of "Inform stakeholders", each once.
        assert sent_to() == everyone
        initial = StakeholderUpdate.objects.get(major_incident=mi, slot="initial")
        assert initial.status == UpdateStatus.SENT and initial.automatic and initial.is_public
        state = CommsState.objects.get(major_incident=mi)
        assert state.next_executive_due_at == T0 + timedelta(minutes=60)
        mi.refresh_from_db()
        assert mi.next_update_due_at == T0 + timedelta(minutes=30)
        assert mi.first_customer_update_at == T0

        # +25 min: the communications lead is reminded, once however often beat ticks.
        clock.move_to(T0 + timedelta(minutes=25))
        seen = len(mail.outbox)
        assert tick(committed)["reminders"] == 1
        assert tick(committed)["reminders"] == 0
        assert sent_to(seen) == ["carol@example.test"]
        assert "Stakeholder update due at 09:30 UTC" in mail.outbox[-1].subject

        # +30 min: nobody wrote one; exactly one automatic update, to the plan's audience.
        clock.move_to(T0 + timedelta(minutes=30))
        seen = len(mail.outbox)
        results = [tick(committed) for _ in range(3)]
        assert [r["cadence"] for r in results] == [1, 0, 0]
        assert sent_to(seen) == everyone
        automatic = StakeholderUpdate.objects.get(major_incident=mi, update_type="cadence")
        assert automatic.automatic and automatic.slot == "cadence:2025-03-03T09:30:00+00:00"
        row = TimelineEntry.objects.get(
            major_incident=mi, kind=TimelineKind.STAKEHOLDER_UPDATE, data__update=automatic.pk
        )
        assert "automatically from the pre-approved template" in row.message
        mi.refresh_from_db()
        assert mi.next_update_due_at == T0 + timedelta(minutes=60)

        # +40 min: carol writes one and promises the next by +70: the clock follows her.
        clock.move_to(T0 + timedelta(minutes=40))
        carol = team["carol"]
        with committed():
            update = services.create_update(
                mi=mi,
                actor=carol,
                update_type="cadence",
                current_impact="Checkout fails for about half of the customers",
                current_action="Rolling back the 08:40 deploy",
                user_action="Retry in a few minutes",
                next_update_at=T0 + timedelta(minutes=70),
            )
            services.send_update(update=update, actor=carol)
        mi.refresh_from_db()
        assert mi.next_update_due_at == T0 + timedelta(minutes=70)

        # +60 min: no automatic update (carol's moved the clock), but the executive hour.
        clock.move_to(T0 + timedelta(minutes=60))
        seen = len(mail.outbox)
        done = tick(committed)
        assert done["cadence"] == 0 and done["executive"] == 1
        assert tick(committed)["executive"] == 0
        assert sent_to(seen) == ["erin@example.test"]
        assert "Executive update" in mail.outbox[-1].subject

        # +65 min: reminded for +70; +70: the automatic update.
        clock.move_to(T0 + timedelta(minutes=65))
        assert tick(committed)["reminders"] == 1
        clock.move_to(T0 + timedelta(minutes=70))
        assert tick(committed)["cadence"] == 1
        assert (
            StakeholderUpdate.objects.filter(
                major_incident=mi, update_type="cadence", automatic=True
            ).count()
            == 2
        )

        # The lifecycle: every state change is a public status-page update.
        clock.move_to(T0 + timedelta(minutes=71))
        move(mi, MIStatus.INVESTIGATING, alice, committed)
        move(mi, MIStatus.IDENTIFIED, alice, committed)
        clock.move_to(T0 + timedelta(minutes=75))
        move(mi, MIStatus.MONITORING, alice, committed)
        page = StakeholderUpdate.objects.filter(
            major_incident=mi, update_type="status_page", is_public=True, status="sent"
        ).order_by("sent_at", "id")
        assert [u.slot for u in page] == [
            "status_page:investigating",
            "status_page:identified",
            "status_page:monitoring",
        ]
        assert "Monitoring" in page.last().subject

        # Resolved after the stability period: everyone who heard anything hears it.
        clock.move_to(T0 + timedelta(minutes=91))
        seen = len(mail.outbox)
        move(mi, MIStatus.RESOLVED, alice, committed)
        assert sent_to(seen) == sorted([*everyone, "carol@example.test"])
        assert any("Resolved" in m.subject for m in mail.outbox[seen:])
        resolution = StakeholderUpdate.objects.get(major_incident=mi, update_type="resolution")
        assert resolution.slot == "resolution" and resolution.is_public
        assert StakeholderUpdate.objects.filter(
            major_incident=mi, slot="status_page:resolved", status="sent"
        ).exists()

        # The cadence stops: no reminder, no automatic, no executive update after resolution.
        clock.move_to(T0 + timedelta(minutes=200))
        seen = len(mail.outbox)
        done = tick(committed)
        assert (done["reminders"], done["cadence"], done["executive"], done["all_clear"]) == (
            0,
            0,
            0,
            0,
        )
        assert len(mail.outbox) == seen

        # Two hours of recovery monitoring: the all-clear, once, and its milestone.
        clock.move_to(T0 + timedelta(minutes=91 + 120))
        assert tick(committed)["all_clear"] == 1
        assert tick(committed)["all_clear"] == 0
        assert sent_to(seen) == sorted([*everyone, "carol@example.test"])
        assert "All clear" in mail.outbox[-1].subject
        mi.refresh_from_db()
        assert mi.all_clear_at == T0 + timedelta(minutes=211)
        assert CommsState.objects.get(major_incident=mi).all_clear_sent_at == mi.all_clear_at
        assert TimelineEntry.objects.filter(
            major_incident=mi, kind=TimelineKind.MILESTONE, data__milestone="all_clear_at"
        ).exists()

    # Never one message twice to one address for one update or notice.
    keys = list(OutboxMessage.objects.filter(major_incident=mi).values_list("idempotency_key"))
    assert len(keys) == len(set(keys))
    assert "alice@example.test" not in sent_to()


def test_after_beat_was_down_for_an_hour_one_catch_up_not_two(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        with committed():
            mi = declare(p1, alice)
        # Due at +30 and again at +60: beat was down from +20 to +90.
        clock.move_to(T0 + timedelta(minutes=90))
        seen = len(mail.outbox)
        assert [tick(committed)["cadence"] for _ in range(3)] == [1, 0, 0]
        updates = StakeholderUpdate.objects.filter(major_incident=mi, update_type="cadence")
        assert [u.slot for u in updates] == ["cadence:2025-03-03T09:30:00+00:00"]
        assert sent_to(seen) == LEADERS
        mi.refresh_from_db()
        # From now, not from the missed due time: +120, not +60.
        assert mi.next_update_due_at == T0 + timedelta(minutes=120)
        # The reminder the outage swallowed is not sent late.
        assert not OutboxMessage.objects.filter(major_incident=mi, purpose="reminder").exists()
        clock.move_to(T0 + timedelta(minutes=119))
        assert tick(committed)["cadence"] == 0
        clock.move_to(T0 + timedelta(minutes=120))
        assert tick(committed)["cadence"] == 1


def test_a_missed_first_customer_update_target_is_written_once(
    p1: Any, alice: Any, committed: Any
) -> None:
    """A security MI's initial notification waits for legal: nothing public within 30 min."""
    with freeze_time(T0) as clock:
        with committed():
            mi = declare(p1, alice, is_security=True)
        clock.move_to(T0 + timedelta(minutes=29))
        assert tick(committed)["first_customer_missed"] == 0
        clock.move_to(T0 + timedelta(minutes=31))
        assert [tick(committed)["first_customer_missed"] for _ in range(3)] == [1, 0, 0]
    rows = TimelineEntry.objects.filter(
        major_incident=mi, kind=TimelineKind.COMMUNICATION, data__first_customer_update_missed=True
    )
    assert rows.count() == 1
    assert "First customer update target missed" in rows.get().message


def test_a_met_first_customer_target_writes_nothing(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        with committed():
            mi = declare(p1, alice)
        clock.move_to(T0 + timedelta(minutes=45))
        assert tick(committed)["first_customer_missed"] == 0
    assert not TimelineEntry.objects.filter(
        major_incident=mi, data__first_customer_update_missed=True
    ).exists()


def test_the_initial_notification_reaches_the_departments_the_outage_reaches(
    make_incident: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    """The plan's "affected department heads": a department whose service depends on the
    failing CI hears; one whose services the outage does not reach does not."""
    from comms.models import StakeholderGroup
    from incidents.models import CIDependency, ConfigurationItem

    database = ConfigurationItem.objects.create(name="payments-db", kind="database")
    checkout = ConfigurationItem.objects.create(name="Checkout", kind="application")
    payroll = ConfigurationItem.objects.create(name="Payroll", kind="application")
    CIDependency.objects.create(consumer=checkout, provider=database)
    sales = StakeholderGroup.objects.create(
        name="Sales", slug="sales", external_emails=["sales-head@partner.test"]
    )
    sales.services.add(checkout)
    sales.users.add(person("usr_sally", "sally@example.test"))
    hr = StakeholderGroup.objects.create(name="HR", slug="hr")
    hr.services.add(payroll)
    hr.users.add(person("usr_harry", "harry@example.test"))
    incident = make_incident(impact=1, urgency=1, affected_ci=database)
    with freeze_time(T0), committed():
        declare(incident, alice)
    assert sent_to() == sorted([*LEADERS, "sales-head@partner.test", "sally@example.test"])
