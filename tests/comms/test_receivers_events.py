"""Comms' receivers: each domain event does what the plan says, through the outbox, once —
even when the signal is sent again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import override_settings
from freezegun import freeze_time

from comms import services
from comms.models import CommsState, OutboxMessage, StakeholderUpdate, UpdateStatus
from comms.selectors.audience import INCIDENT_CHANNEL
from comms.services import notifications
from incidents import events
from incidents import services as incident_services
from incidents.models import (
    EscalationPolicy,
    EscalationStep,
    MajorIncident,
    MIStatus,
    RaciRole,
    TimelineEntry,
)
from tests.conftest import make_user
from tests.incidents.mi_fixtures import T0, declare
from warroom import events as warroom_events
from warroom import services as warroom_services

pytestmark = pytest.mark.django_db

TEAMS = "https://teams.example.test/workflows/hook"


def with_email(user: Any, email: str) -> Any:
    user.email = email
    user.save(update_fields=["email"])
    return user


def declared(p1: Any, alice: Any, committed: Any, **fields: Any) -> MajorIncident:
    with committed():
        return declare(p1, alice, **fields)


def test_declaration_opens_the_clock_and_sends_the_initial_notification_once(
    p1: Any, alice: Any, leadership: Any, committed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    monkeypatch.setattr(notifications.slack, "open_incident_channel", opened.append)
    with freeze_time(T0):
        mi = declared(p1, alice, committed)
        assert opened == [mi.pk]
        assert CommsState.objects.get(major_incident=mi).next_executive_due_at == T0 + timedelta(
            hours=1
        )
        assert sorted(m.to[0] for m in mail.outbox) == ["cio@example.test", "cto@example.test"]
        # The signal again (a retried receiver): nothing new.
        with committed():
            events.major_incident_declared.send(sender=None, major_incident_id=mi.pk, actor_id=None)
    assert len(mail.outbox) == 2
    assert StakeholderUpdate.objects.filter(major_incident=mi, update_type="initial").count() == 1


@pytest.mark.after_commit_errors
def test_a_failing_slack_channel_does_not_cost_the_initial_notification(
    p1: Any, alice: Any, leadership: Any, committed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(major_incident_id: int) -> None:
        raise RuntimeError("slack service down")

    monkeypatch.setattr(notifications.slack, "open_incident_channel", broken)
    mi = declared(p1, alice, committed)
    assert StakeholderUpdate.objects.get(major_incident=mi, slot="initial").status == "sent"
    assert len(mail.outbox) == 2


def test_a_security_mi_sends_nothing_before_legal_approves(
    p1: Any, alice: Any, lee: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed, is_security=True)
        initial = StakeholderUpdate.objects.get(major_incident=mi, slot="initial")
        assert initial.status == UpdateStatus.PENDING_APPROVAL
        # The cadence falls due: its automatic update waits too, and the clock moves on.
        clock.move_to(T0 + timedelta(minutes=30))
        with committed():
            services.send_due_updates()
        with committed():
            incident_services.transition_major_incident(
                mi=mi, to=MIStatus.INVESTIGATING, actor=alice
            )
        assert not OutboxMessage.objects.filter(major_incident=mi).exists()
        assert mail.outbox == []
        waiting = StakeholderUpdate.objects.filter(
            major_incident=mi, status=UpdateStatus.PENDING_APPROVAL
        )
        assert sorted(waiting.values_list("update_type", flat=True)) == [
            "cadence",
            "initial",
            "status_page",
        ]
        # Legal approves the initial notification and sends it: it is delivered.
        lee.groups.add(*Group.objects.filter(name="itsm_manager"))  # may send updates too
        with committed():
            services.approve_update(update=initial, actor=lee)
            services.send_update(update=initial, actor=alice)
    assert sorted(m.to[0] for m in mail.outbox) == ["cio@example.test", "cto@example.test"]
    assert set(OutboxMessage.objects.filter(update=initial).values_list("status", flat=True)) == {
        "sent"
    }
    assert "Security incident" in mail.outbox[0].subject


@override_settings(TEAMS_WEBHOOK_URL=TEAMS)
def test_state_changes_update_the_status_page_and_post_to_the_chat_once(
    p1: Any, alice: Any, committed: Any
) -> None:
    mi = declared(p1, alice, committed)
    with committed():
        incident_services.transition_major_incident(mi=mi, to=MIStatus.INVESTIGATING, actor=alice)
    # The same signal twice: one status-page update, one post.
    for _ in range(2):
        with committed():
            events.major_incident_state_changed.send(
                sender=None,
                major_incident_id=mi.pk,
                from_status=MIStatus.DECLARED,
                to_status=MIStatus.INVESTIGATING,
                actor_id=alice.pk,
            )
    page = StakeholderUpdate.objects.filter(major_incident=mi, update_type="status_page")
    assert [(u.slot, u.status, u.is_public) for u in page] == [
        ("status_page:investigating", "sent", True)
    ]
    posts = [
        p
        for p in OutboxMessage.objects.filter(major_incident=mi, purpose="war_room")
        if "is now investigating" in p.payload["parts"]["current_action"]
    ]
    assert [(p.channel, p.recipient) for p in posts] == [("teams", TEAMS)]


@override_settings(TEAMS_WEBHOOK_URL=TEAMS)
def test_a_regression_then_a_second_resolution_sends_a_second_resolution(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0) as clock:
        mi = declared(p1, alice, committed)
        for to in (MIStatus.INVESTIGATING, MIStatus.MONITORING):
            with committed():
                incident_services.transition_major_incident(mi=mi, to=to, actor=alice)
        clock.move_to(T0 + timedelta(minutes=20))
        with committed():
            incident_services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
        clock.move_to(T0 + timedelta(minutes=30))
        with committed():
            incident_services.transition_major_incident(
                mi=mi, to=MIStatus.INVESTIGATING, actor=alice, reason="errors are back"
            )
        for to in (MIStatus.MONITORING,):
            with committed():
                incident_services.transition_major_incident(mi=mi, to=to, actor=alice)
        clock.move_to(T0 + timedelta(minutes=50))
        with committed():
            incident_services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
        resolutions = StakeholderUpdate.objects.filter(
            major_incident=mi, update_type="resolution"
        ).order_by("id")
        assert [u.slot for u in resolutions] == ["resolution", "resolution:2"]
        assert StakeholderUpdate.objects.filter(
            major_incident=mi, slot="status_page:resolved:2"
        ).exists()
        # Each resolution earns its all-clear: the second one two hours after the second.
        clock.move_to(T0 + timedelta(minutes=50 + 120))
        with committed():
            assert services.send_due_updates()["all_clear"] == 1
        assert StakeholderUpdate.objects.filter(major_incident=mi, slot="all_clear:2").exists()
        assert not StakeholderUpdate.objects.filter(major_incident=mi, slot="all_clear").exists()


def test_a_cancelled_mi_is_told_to_those_who_heard_the_initial_notification(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    mi = declared(p1, alice, committed)
    outsider = with_email(make_user("usr_late_leader"), "late@example.test")
    leadership.users.add(outsider)  # joined after the initial notification: not told
    seen = len(mail.outbox)
    with committed():
        incident_services.transition_major_incident(
            mi=mi, to=MIStatus.CANCELLED, actor=alice, reason="declared in error"
        )
    with committed():
        notifications.tell_of_cancellation(MajorIncident.objects.get(pk=mi.pk))  # again: no-op
    cancelled = mail.outbox[seen:]
    assert sorted(m.to[0] for m in cancelled) == ["cio@example.test", "cto@example.test"]
    assert "Cancelled" in cancelled[0].subject
    assert "declared in error" in cancelled[0].body
    assert TimelineEntry.objects.filter(major_incident=mi, data__cancelled_notice=True).count() == 1
    # The status page says so too; the cadence is over.
    assert StakeholderUpdate.objects.filter(
        major_incident=mi, slot="status_page:cancelled", status="sent"
    ).exists()
    assert not StakeholderUpdate.objects.filter(major_incident=mi, update_type="resolution")


def test_a_security_mi_cancellation_notice_leaves_out_the_reason(
    p1: Any, alice: Any, lee: Any, leadership: Any, committed: Any
) -> None:
    mi = declared(p1, alice, committed, is_security=True)
    initial = StakeholderUpdate.objects.get(major_incident=mi, slot="initial")
    lee.groups.add(*Group.objects.filter(name="itsm_manager"))
    with committed():
        services.approve_update(update=initial, actor=lee)
        services.send_update(update=initial, actor=lee)
    seen = len(mail.outbox)
    with committed():
        incident_services.transition_major_incident(
            mi=mi, to=MIStatus.CANCELLED, actor=alice, reason="the ransomware note was a test"
        )
    assert len(mail.outbox[seen:]) == 2
    assert all("ransomware" not in m.body for m in mail.outbox[seen:])


@override_settings(TEAMS_WEBHOOK_URL=TEAMS)
def test_a_role_assigned_invites_the_holder_and_posts_once(
    p1: Any, alice: Any, committed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    invited: list[tuple[int, int]] = []
    monkeypatch.setattr(
        notifications.slack, "invite_to_incident_channel", lambda m, u: invited.append((m, u))
    )
    mi = declared(p1, alice, committed)
    carol = make_user("usr_carol_comms", "technician")
    with committed():
        incident_services.assign_role(
            mi=mi, actor=alice, role=RaciRole.COMMUNICATIONS_LEAD, user=carol
        )
    with committed():
        events.role_assigned.send(
            sender=None,
            major_incident_id=mi.pk,
            role=RaciRole.COMMUNICATIONS_LEAD,
            user_id=carol.pk,
            actor_id=alice.pk,
        )
    assert (mi.pk, carol.pk) in invited
    posts = OutboxMessage.objects.filter(major_incident=mi, purpose="war_room")
    texts = [p.payload["parts"]["current_action"] for p in posts]
    assert sum("is now Communications lead" in t for t in texts) == 1


@override_settings(TEAMS_WEBHOOK_URL=TEAMS)
def test_command_updates_and_decisions_go_to_the_chat_channels_notes_do_not(
    p1: Any, alice: Any, committed: Any
) -> None:
    mi = declared(p1, alice, committed)
    with committed():
        update = warroom_services.post_to_timeline(
            mi=mi, actor=alice, body="Rolling back <b>v2.3</b>", kind="command_update"
        )
        warroom_services.post_to_timeline(mi=mi, actor=alice, body="We fail over", kind="decision")
        warroom_services.post_to_timeline(mi=mi, actor=alice, body="scratch idea", kind="note")
    with committed():
        warroom_events.timeline_post_added.send(
            sender=None,
            major_incident_id=mi.pk,
            entry_id=update.pk,
            kind="command_update",
            thread="command",
            actor_id=alice.pk,
        )
    texts = [
        p.payload["parts"]["current_action"]
        for p in OutboxMessage.objects.filter(major_incident=mi, purpose="war_room")
    ]
    assert texts.count("Command update: Rolling back <b>v2.3</b>") == 1
    assert texts.count("Decision: We fail over") == 1
    assert not any("scratch idea" in t for t in texts)


@override_settings(TEAMS_WEBHOOK_URL=TEAMS)
def test_a_security_mi_posts_nothing_to_the_chat_channels(
    p1: Any, alice: Any, committed: Any
) -> None:
    mi = declared(p1, alice, committed, is_security=True)
    with committed():
        warroom_services.post_to_timeline(
            mi=mi, actor=alice, body="Attacker used key X", kind="command_update"
        )
        incident_services.transition_major_incident(mi=mi, to=MIStatus.INVESTIGATING, actor=alice)
    assert not OutboxMessage.objects.filter(major_incident=mi, purpose="war_room").exists()


def test_an_escalation_notifies_the_steps_role_holders_and_group_once(
    p1: Any, alice: Any, committed: Any
) -> None:
    with_email(alice, "alice@example.test")
    vps = Group.objects.create(name="engineering-vps")
    vp = with_email(make_user("usr_vic_vp"), "vic@example.test")
    vp.groups.add(vps)
    with_email(make_user("usr_not_vp"), "nobody@example.test")
    policy = EscalationPolicy.objects.get(trigger="open_too_long")
    EscalationStep.objects.filter(policy=policy, order=2).update(target_group=vps)
    with freeze_time(T0) as clock:
        declared(p1, alice, committed)
        seen = len(mail.outbox)
        # Open longer than escalation_resolution_hours (2 h): the IC; 30 min later the VP.
        clock.move_to(T0 + timedelta(hours=2, minutes=1))
        with committed():
            incident_services.evaluate_escalations()
        assert [m.to for m in mail.outbox[seen:]] == [["alice@example.test"]]
        assert "Escalated to Incident commander" in mail.outbox[-1].subject
        assert "open_too_long" not in mail.outbox[-1].body
        clock.move_to(T0 + timedelta(hours=2, minutes=31))
        with committed():
            incident_services.evaluate_escalations()
            incident_services.evaluate_escalations()
    assert [m.to for m in mail.outbox[seen:]] == [["alice@example.test"], ["vic@example.test"]]
    assert "Escalated to Engineering VP" in mail.outbox[-1].subject


def test_an_escalation_signal_sent_again_notifies_once(
    mi: MajorIncident, alice: Any, committed: Any
) -> None:
    with_email(alice, "alice@example.test")
    step = EscalationStep.objects.get(policy__trigger="open_too_long", order=1)
    for _ in range(2):
        with committed():
            notifications.escalation_triggered(
                mi.pk, step.pk, step.target_label, target_role=RaciRole.MAJOR_INCIDENT_MANAGER
            )
    assert [m.to for m in mail.outbox] == [["alice@example.test"]]


@override_settings(SLACK_BOT_TOKEN="xoxb-test")
def test_an_escalation_reaches_the_incident_channel_and_the_targets_slack_id(
    mi: MajorIncident, alice: Any, committed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from incidents.models import UserProfile

    UserProfile.objects.update_or_create(user=alice, defaults={"slack_user_id": "U0ALICE"})
    step = EscalationStep.objects.get(policy__trigger="open_too_long", order=1)
    notifications.escalation_triggered(
        mi.pk, step.pk, step.target_label, target_role=RaciRole.MAJOR_INCIDENT_MANAGER
    )
    rows = OutboxMessage.objects.filter(major_incident=mi, purpose="escalation", channel="slack")
    assert set(rows.values_list("recipient", flat=True)) == {INCIDENT_CHANNEL, "U0ALICE"}


def test_a_resolution_signal_that_runs_after_the_close_still_sends_the_resolution(
    p1: Any, alice: Any, leadership: Any, committed: Any
) -> None:
    with freeze_time(T0):
        mi = declared(p1, alice, committed)
        # Resolved then closed without the receivers (as if they ran late), then the
        # resolution's signal arrives: the resolution goes, the stale status page does not.
        for to in (MIStatus.MONITORING,):
            incident_services.transition_major_incident(mi=mi, to=to, actor=alice)
        incident_services.transition_major_incident(
            mi=mi, to=MIStatus.RESOLVED, actor=alice, override_stability=True, reason="fixed"
        )
        MajorIncident.objects.filter(pk=mi.pk).update(status=MIStatus.CLOSED)
        with committed():
            notifications.major_incident_state_changed(
                mi.pk, MIStatus.MONITORING, MIStatus.RESOLVED
            )
    assert StakeholderUpdate.objects.filter(major_incident=mi, slot="resolution").exists()
    assert not StakeholderUpdate.objects.filter(major_incident=mi, update_type="status_page")


def test_a_security_mi_escalation_reaches_its_targets_without_detail(
    p1: Any, alice: Any, lee: Any, committed: Any
) -> None:
    """The seed has no security-safe escalation template: the named responders still hear, in
    the fixed words, and nothing about the service, the impact or the reason."""
    with_email(lee, "lee@example.test")
    step = EscalationStep.objects.get(policy__trigger="security", order=2)
    EscalationStep.objects.filter(pk=step.pk).update(target_group=Group.objects.get(name="legal"))
    with freeze_time(T0):
        mi = declared(
            p1, alice, committed, is_security=True, initial_impact_statement="Keys leaked on S3"
        )
        seen = len(mail.outbox)
        with committed():
            incident_services.evaluate_escalations()
    legal = [m for m in mail.outbox[seen:] if m.to == ["lee@example.test"]]
    assert len(legal) == 1
    assert legal[0].subject == f"[{mi.number}] Security incident: Legal needed"
    assert "Keys leaked" not in legal[0].body and "S3" not in legal[0].body
    assert "Checkout" not in legal[0].body
