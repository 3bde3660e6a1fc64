"""No N+1 in the admin: every changelist costs the same queries for a few rows as for many.

Each row points at its own related rows (its own assignee, IC, CI, …), so one query per row
would show as a difference. Where a model allows only a few rows (one roster entry per role, one
escalation policy per trigger) "many" is as many as it allows. The candidate queue and the MI
list of the web pages are measured the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from incidents import services
from incidents.models import (
    AutoDeclarationRule,
    Change,
    CIDependency,
    ConfigurationItem,
    EscalationFiring,
    EscalationPolicy,
    EscalationStep,
    EscalationTrigger,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    Problem,
    ProblemTask,
    RaciActivity,
    RaciEntry,
    RaciRole,
    RoleRoster,
    SystemProperty,
    TimelineEntry,
    TimelineKind,
)
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
User = get_user_model()


def _user(tag: str, i: int, *roles: str) -> Any:
    return (
        make_user(f"usr_{tag}_{i}", *roles)
        if roles
        else User.objects.create(username=f"usr_{tag}_{i}")
    )


def _incident(i: int, **fields: Any) -> Incident:
    return Incident.objects.create(short_description=f"incident {i}", **fields)


def _ci(i: int) -> ConfigurationItem:
    return ConfigurationItem.objects.create(name=f"ci-{i}", kind="application", user_count=i)


def _cis(start: int, stop: int) -> None:
    for i in range(start, stop):
        _ci(i)


def _dependencies(start: int, stop: int) -> None:
    for i in range(start, stop):
        CIDependency.objects.create(consumer=_ci(i), provider=_ci(1000 + i))


def _incidents(start: int, stop: int) -> None:
    for i in range(start, stop):
        _incident(i, affected_ci=_ci(i), assigned_to=_user("assignee", i))


def _problems(start: int, stop: int) -> None:
    for i in range(start, stop):
        Problem.objects.create(
            short_description=f"problem {i}",
            assigned_to=_user("assignee", i),
            created_by=_user("creator", i),
        )


def _problem_tasks(start: int, stop: int) -> None:
    for i in range(start, stop):
        problem = Problem.objects.create(short_description=f"problem of task {i}")
        ProblemTask.objects.create(
            problem=problem, short_description=f"task {i}", assigned_to=_user("assignee", i)
        )


def _changes(start: int, stop: int) -> None:
    for i in range(start, stop):
        Change.objects.create(short_description=f"change {i}", implementer=_user("impl", i))


def _timeline(start: int, stop: int) -> None:
    for i in range(start, stop):
        TimelineEntry.objects.create(
            incident=_incident(i), kind=TimelineKind.NOTE, message="n", actor=_user("actor", i)
        )


def _properties(start: int, stop: int) -> None:
    if start == 0:
        SystemProperty.objects.all().delete()
    for i in range(start, stop):
        SystemProperty.objects.create(key=f"zz_{i:03d}", value=i, updated_by=_user("editor", i))


def _major_incidents(start: int, stop: int) -> None:
    # Declared through the service: each with its own incident commander (a RoleAssignment).
    for i in range(start, stop):
        ic = _user("ic", i, "itsm_manager")
        services.declare_major_incident(
            incident=_incident(i), manager=ic, actor=ic, initial_impact_statement=f"down {i}"
        )


def _roster(start: int, stop: int) -> None:
    # One user per role, named by the role's place (a string's hash() changes with every
    # process and two roles' hashes could share a name: a flaky UniqueViolation).
    for i, role in enumerate(list(RaciRole.values)[start:stop], start):
        RoleRoster.objects.create(role=role, user=_user("oncall", i))


def _raci(start: int, stop: int) -> None:
    if start == 0:
        RaciActivity.objects.all().delete()
    for i in range(start, stop):
        activity = RaciActivity.objects.create(code=f"act-{i}", name=f"Activity {i}", order=i)
        RaciEntry.objects.create(activity=activity, role=RaciRole.SCRIBE, letter="R")
        RaciEntry.objects.create(activity=activity, role=RaciRole.TECHNICAL_LEAD, letter="C")


def _rules(start: int, stop: int) -> None:
    if start == 0:
        AutoDeclarationRule.objects.all().delete()
    for i in range(start, stop):
        AutoDeclarationRule.objects.create(name=f"rule {i}", order=i, max_priority=1)


def _candidates(start: int, stop: int) -> None:
    for i in range(start, stop):
        rule = AutoDeclarationRule.objects.create(name=f"proposer {i}", order=100 + i)
        MajorIncidentCandidate.objects.create(
            incident=_incident(i),
            rule=rule,
            reason="P1",
            status="rejected",
            decided_by=_user("decider", i),
            decided_at=timezone.now(),
        )


def _policies(start: int, stop: int) -> None:
    if start == 0:
        EscalationPolicy.objects.all().delete()
    for trigger in list(EscalationTrigger.values)[start:stop]:
        policy = EscalationPolicy.objects.create(name=f"policy {trigger}", trigger=trigger)
        for order in (1, 2):
            EscalationStep.objects.create(policy=policy, order=order, target_label="VP")


def _firings(start: int, stop: int) -> None:
    now = timezone.now()
    for i in range(start, stop):
        policy = EscalationPolicy.objects.order_by("id")[i % 4]
        step = EscalationStep.objects.create(policy=policy, order=100 + i, target_label=f"x{i}")
        mi = MajorIncident.objects.create(incident=_incident(i), impact_statement="x")
        EscalationFiring.objects.create(
            major_incident=mi, step=step, triggered_at=now, fired_at=now
        )


def _users(start: int, stop: int) -> None:
    for i in range(start, stop):
        _user("person", i, "technician")


def _groups(start: int, stop: int) -> None:
    for i in range(start, stop):
        Group.objects.create(name=f"group {i}")


def _periodic_tasks(start: int, stop: int) -> None:
    for i in range(start, stop):
        every = IntervalSchedule.objects.create(every=i + 1, period="minutes")
        PeriodicTask.objects.create(name=f"task {i}", task="x", interval=every)


def _intervals(start: int, stop: int) -> None:
    for i in range(start, stop):
        IntervalSchedule.objects.create(every=1000 + i, period="seconds")


def _crontabs(start: int, stop: int) -> None:
    for i in range(start, stop):
        CrontabSchedule.objects.create(minute=str(i % 60), hour=str(i % 24))


def _solars(start: int, stop: int) -> None:
    for i in range(start, stop):
        SolarSchedule.objects.create(event="sunrise", latitude=i, longitude=i)


def _clocked(start: int, stop: int) -> None:
    for i in range(start, stop):
        ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(hours=i))


def _war_room_mis(start: int, stop: int, tag: str) -> list[MajorIncident]:
    return [
        MajorIncident.objects.create(incident=_incident(i), impact_statement=f"{tag} {i}")
        for i in range(start, stop)
    ]


def _maintenances(start: int, stop: int) -> None:
    from comms.models import ScheduledMaintenance

    when = timezone.now() + timedelta(days=1)
    for i in range(start, stop):
        window = ScheduledMaintenance.objects.create(
            name=f"upgrade {i}", scheduled_for=when, scheduled_until=when + timedelta(hours=1)
        )
        window.components.add(_ci(i))


def _subscribers(start: int, stop: int) -> None:
    from comms.models import StatusSubscriber

    for i in range(start, stop):
        subscriber = StatusSubscriber.objects.create(email=f"s{i}@example.test")
        subscriber.components.add(_ci(i))


def _inbound_mails(start: int, stop: int) -> None:
    from comms.models import InboundMail

    for i in range(start, stop):
        InboundMail.objects.create(
            mailbox="INBOX", uid_validity=1, uid=i, message_id=f"<m{i}@example.test>",
            sender=f"user{i}@example.test", subject=f"mail {i}", outcome="created",
            incident=_incident(i),
        )  # fmt: skip


def _inbound_sources(start: int, stop: int) -> None:
    from comms.models import InboundSource

    for i in range(start, stop):
        InboundSource.objects.create(
            kind="webhook", name=f"source {i}", secret=f"s{i}", default_ci=_ci(i)
        )


def _label_rules(start: int, stop: int) -> None:
    from comms.models import InboundSource, LabelRule

    for i in range(start, stop):
        source = InboundSource.objects.create(kind="webhook", name=f"rules {i}", secret=f"r{i}")
        LabelRule.objects.create(
            name=f"rule {i}", label="service", pattern=f"s{i}", ci=_ci(i), source=source
        )


def _inbound_events(start: int, stop: int) -> None:
    from comms.models import InboundEvent, InboundSource

    for i in range(start, stop):
        source = InboundSource.objects.create(kind="webhook", name=f"events {i}", secret=f"e{i}")
        InboundEvent.objects.create(
            source=source, body="{}", outcome="created", incident=_incident(i)
        )


def _alert_groups(start: int, stop: int) -> None:
    from comms.models import AlertGroup, InboundSource

    for i in range(start, stop):
        source = InboundSource.objects.create(kind="webhook", name=f"groups {i}", secret=f"g{i}")
        AlertGroup.objects.create(
            source=source, key_hash=f"{i:064d}", dedup_key=f"k{i}", incident=_incident(i)
        )


def _mailbox_states(start: int, stop: int) -> None:
    from comms.models import MailboxState

    for i in range(start, stop):
        MailboxState.objects.create(mailbox=f"folder-{i}", uid_validity=1, last_uid=i)


def _checkpoint_templates(start: int, stop: int) -> None:
    from warroom.models import CheckpointTemplate

    for i in range(start, stop):
        CheckpointTemplate.objects.create(
            name=f"template {i}", phase=f"phase {i}", starts_after_minutes=0, due_after_minutes=i
        )


def _checkpoints(start: int, stop: int) -> None:
    from warroom.models import Checkpoint

    now = timezone.now()
    for i, mi in enumerate(_war_room_mis(start, stop, "checkpoint"), start):
        Checkpoint.objects.create(
            major_incident=mi, name=f"cp {i}", starts_at=now, due_at=now, done_by=_user("tick", i)
        )


def _assessment_revisions(start: int, stop: int) -> None:
    from warroom.models import AssessmentRevision

    for i, mi in enumerate(_war_room_mis(start, stop, "assessment"), start):
        AssessmentRevision.objects.create(major_incident=mi, revision=1, author=_user("rev", i))


def _threads(start: int, stop: int) -> None:
    from warroom.models import Thread

    for i, mi in enumerate(_war_room_mis(start, stop, "thread"), start):
        Thread.objects.create(
            major_incident=mi, slug=f"db-{i}", name=f"DB {i}", owner=_user("owner", i),
            created_by=_user("opener", i),
        )  # fmt: skip


def _action_items(start: int, stop: int) -> None:
    from warroom.models import ActionItem

    for i, mi in enumerate(_war_room_mis(start, stop, "item"), start):
        ActionItem.objects.create(major_incident=mi, title=f"item {i}", owner=_user("doer", i))


def _attendances(start: int, stop: int) -> None:
    from warroom.models import BridgeAttendance

    for i, mi in enumerate(_war_room_mis(start, stop, "bridge"), start):
        BridgeAttendance.objects.create(
            major_incident=mi, user=_user("caller", i), recorded_by=_user("scribe", i)
        )


def _scratchpad_versions(start: int, stop: int) -> None:
    from warroom.models import ScratchpadVersion

    for i, mi in enumerate(_war_room_mis(start, stop, "pad"), start):
        ScratchpadVersion.objects.create(
            major_incident=mi, version=1, text="x", saved_by=_user("pad", i)
        )


def _stakeholder_groups(start: int, stop: int) -> None:
    from comms.models import StakeholderGroup

    for i in range(start, stop):
        group = StakeholderGroup.objects.create(name=f"group {i}", slug=f"group-{i}")
        group.users.add(_user("member", i))
        group.services.add(_ci(i))


def _plan_entries(start: int, stop: int) -> None:
    from comms.models import CommunicationPlanEntry, StakeholderGroup

    for i in range(start, stop):
        entry = CommunicationPlanEntry.objects.create(
            name=f"entry {i}", order=100 + i, update_type="cadence", trigger="cadence",
            channels=["email"], raci_activity=RaciActivity.objects.order_by("id").first(),
        )  # fmt: skip
        entry.audiences.add(StakeholderGroup.objects.create(name=f"aud {i}", slug=f"aud-{i}"))


def _message_templates(start: int, stop: int) -> None:
    from comms.models import ChannelName, MessageTemplate, UpdateType

    pairs = [(t, c) for t in UpdateType.values for c in ChannelName.values]
    for update_type, channel in pairs[start:stop]:
        MessageTemplate.objects.create(
            update_type=update_type, channel=channel, subject="s", current_impact="i",
            current_action="a", user_action="u",
        )  # fmt: skip


def _stakeholder_updates(start: int, stop: int) -> None:
    _make_updates(start, stop)


def _make_updates(start: int, stop: int) -> list[Any]:
    from comms.models import StakeholderUpdate

    updates = []
    for i, mi in enumerate(_war_room_mis(start, stop, "update"), start):
        updates.append(
            StakeholderUpdate.objects.create(
                major_incident=mi,
                update_type="cadence",
                current_impact="i",
                current_action="a",
                user_action="u",
                author=_user("author", i),
                approver=_user("approver", i),
            )
        )
    return updates


def _outbox(start: int, stop: int) -> None:
    from comms.models import OutboxMessage

    for i, update in enumerate(_make_updates(start, stop), start):
        OutboxMessage.objects.create(
            idempotency_key=f"k{i}", channel="email", recipient=f"p{i}@example.test",
            purpose=f"p{i % 7}", major_incident=update.major_incident, update=update,
        )  # fmt: skip


def _incident_channels(start: int, stop: int) -> None:
    from comms.models import IncidentChannel

    for i, mi in enumerate(_war_room_mis(start, stop, "slack"), start):
        IncidentChannel.objects.create(major_incident=mi, name=f"incident-{i}")


def _comms_states(start: int, stop: int) -> None:
    from comms.models import CommsState

    for mi in _war_room_mis(start, stop, "clock"):
        CommsState.objects.create(major_incident=mi)


def _external_records(start: int, stop: int) -> None:
    from comms.models import ExternalRecord

    for i, mi in enumerate(_war_room_mis(start, stop, "external"), start):
        ExternalRecord.objects.create(major_incident=mi, channel="statuspage", external_id=f"x{i}")


def _reviews(start: int, stop: int) -> list[Any]:
    from pir.models import PostIncidentReview

    reviews = []
    for i, mi in enumerate(_war_room_mis(start, stop, "review"), start):
        review = PostIncidentReview.objects.create(
            major_incident=mi,
            title=f"review {i}",
            publish_due_at=timezone.now() + timedelta(days=i - 10),
            published_by=_user("publisher", i),
        )
        review.authors.add(_user("author", i))
        reviews.append(review)
    return reviews


def _make_reviews(start: int, stop: int) -> None:
    _reviews(start, stop)


def _review_comments(start: int, stop: int) -> None:
    from pir.models import ReviewComment

    for i, review in enumerate(_reviews(start, stop), start):
        ReviewComment.objects.create(review=review, body=f"c {i}", author=_user("commenter", i))


def _review_action_items(start: int, stop: int) -> None:
    # Each item points at its own owner, problem task, change and Jira row.
    from comms.models import OutboxMessage
    from pir.models import ReviewActionItem

    for i, review in enumerate(_reviews(start, stop), start):
        problem = Problem.objects.create(short_description=f"problem of item {i}")
        message = OutboxMessage.objects.create(
            idempotency_key=f"jira{i}", channel="jira", recipient="OPS", purpose="create_issue",
            status="sent", provider_message_id=f"OPS-{i}",
        )  # fmt: skip
        ReviewActionItem.objects.create(
            review=review, title=f"item {i}", owner=_user("doer", i), priority=2,
            problem_task=ProblemTask.objects.create(problem=problem, short_description=f"t {i}"),
            change=Change.objects.create(short_description=f"c {i}"),
            tracker_message=message,
        )  # fmt: skip


def _kpi_reports(start: int, stop: int) -> None:
    from datetime import date

    from pir.models import KpiReport

    for i in range(start, stop):
        KpiReport.objects.create(month=date(2000 + i // 12, i % 12 + 1, 1), recipients=i)


# label -> (maker, few, many)
CHANGELISTS: dict[str, tuple[Callable[[int, int], None], int, int]] = {
    "incidents.ConfigurationItem": (_cis, 5, 50),
    "incidents.CIDependency": (_dependencies, 5, 50),
    "incidents.Incident": (_incidents, 5, 50),
    "incidents.Problem": (_problems, 5, 50),
    "incidents.ProblemTask": (_problem_tasks, 5, 50),
    "incidents.Change": (_changes, 5, 50),
    "incidents.TimelineEntry": (_timeline, 5, 50),
    "incidents.SystemProperty": (_properties, 5, 50),
    "incidents.MajorIncident": (_major_incidents, 5, 50),
    "incidents.RoleRoster": (_roster, 2, len(RaciRole.values)),
    "incidents.RaciActivity": (_raci, 5, 50),
    "incidents.AutoDeclarationRule": (_rules, 5, 50),
    "incidents.MajorIncidentCandidate": (_candidates, 5, 50),
    "incidents.EscalationPolicy": (_policies, 2, len(EscalationTrigger.values)),
    "incidents.EscalationFiring": (_firings, 5, 50),
    "auth.User": (_users, 5, 50),
    "auth.Group": (_groups, 5, 50),
    "django_celery_beat.PeriodicTask": (_periodic_tasks, 5, 50),
    "django_celery_beat.IntervalSchedule": (_intervals, 5, 50),
    "django_celery_beat.CrontabSchedule": (_crontabs, 5, 50),
    "django_celery_beat.SolarSchedule": (_solars, 5, 50),
    "django_celery_beat.ClockedSchedule": (_clocked, 5, 50),
    "warroom.CheckpointTemplate": (_checkpoint_templates, 5, 50),
    "warroom.Checkpoint": (_checkpoints, 5, 50),
    "warroom.AssessmentRevision": (_assessment_revisions, 5, 50),
    "warroom.Thread": (_threads, 5, 50),
    "warroom.ActionItem": (_action_items, 5, 50),
    "warroom.BridgeAttendance": (_attendances, 5, 50),
    "warroom.ScratchpadVersion": (_scratchpad_versions, 5, 50),
    "comms.StakeholderGroup": (_stakeholder_groups, 5, 50),
    "comms.CommunicationPlanEntry": (_plan_entries, 5, 50),
    "comms.MessageTemplate": (_message_templates, 5, 50),
    "comms.StakeholderUpdate": (_stakeholder_updates, 5, 50),
    "comms.OutboxMessage": (_outbox, 5, 50),
    "comms.IncidentChannel": (_incident_channels, 5, 50),
    "comms.CommsState": (_comms_states, 5, 50),
    "comms.ExternalRecord": (_external_records, 5, 50),
    "comms.ScheduledMaintenance": (_maintenances, 5, 50),
    "comms.StatusSubscriber": (_subscribers, 5, 50),
    "comms.InboundMail": (_inbound_mails, 5, 50),
    "comms.InboundSource": (_inbound_sources, 5, 50),
    "comms.LabelRule": (_label_rules, 5, 50),
    "comms.InboundEvent": (_inbound_events, 5, 50),
    "comms.AlertGroup": (_alert_groups, 5, 50),
    "comms.MailboxState": (_mailbox_states, 5, 50),
    "pir.PostIncidentReview": (_make_reviews, 5, 50),
    "pir.ReviewComment": (_review_comments, 5, 50),
    "pir.ReviewActionItem": (_review_action_items, 5, 50),
    "pir.KpiReport": (_kpi_reports, 5, 50),
}


def test_every_changelist_is_measured() -> None:
    assert set(CHANGELISTS) == {model._meta.label for model in admin.site._registry}


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content.decode()[:500]
    return len(ctx.captured_queries)


def _rows_shown(client: Client, url: str) -> int:
    return client.get(url).context["cl"].result_count


@pytest.mark.parametrize("label", CHANGELISTS)
def test_changelist_query_count_does_not_grow_with_rows(browser_for, root, label):
    make, few, many = CHANGELISTS[label]
    app, model = label.lower().split(".")
    url = f"/admin/{app}/{model}/"
    client = browser_for(root)
    client.get(url)  # the session and content types are warm

    make(0, few)
    shown_few, with_few = _rows_shown(client, url), _queries(client, url)
    make(few, many)
    shown_many, with_many = _rows_shown(client, url), _queries(client, url)
    assert shown_many - shown_few >= many - few, "the rows made are listed"
    assert with_many == with_few, (
        f"{label}: {with_few} queries for {few} rows, {with_many} for {many}"
    )


# --- the web lists -----------------------------------------------------------------------------


def _web_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("url", "make"),
    [("/major-incidents/", _major_incidents), ("/major-incidents/candidates/", _candidates)],
)
def test_web_list_query_count_does_not_grow_with_rows(alice, url, make):
    client = Client()
    client.force_login(alice)
    client.get(url)
    make(0, 5)
    few = _web_queries(client, url)
    make(5, 50)
    many = _web_queries(client, url)
    assert many == few, f"{url}: {few} queries for 5 rows, {many} for 50"


def test_pending_candidates_query_count_does_not_grow(alice):
    """The queue's pending half: each candidate with its incident, CI and rule."""
    client = Client()
    client.force_login(alice)

    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            rule = AutoDeclarationRule.objects.create(name=f"pending {i}", order=200 + i)
            MajorIncidentCandidate.objects.create(
                incident=_incident(i, affected_ci=_ci(i)), rule=rule, reason="P1"
            )

    url = "/major-incidents/candidates/"
    client.get(url)
    add(0, 5)
    few = _web_queries(client, url)
    add(5, 50)
    assert _web_queries(client, url) == few
