"""Every admin page, action and custom view, for every persona, as the API's matrix does.

People: anonymous, oscar (no role), lee (legal), tina (technician): not staff, so the admin sends
them to its login page. Staff: tess (a technician with staff status), alice (itsm_manager), sam
(super_admin). What staff may see and do follows their role groups, asked of ``selectors.can``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client

from incidents import selectors
from incidents.models import AutoDeclarationRule, Incident, TimelineEntry
from tests.conftest import make_user
from tests.incidents.test_admin import _any_pk, _url, populated  # noqa: F401  (the fixture)

PERSONAS = ["anonymous", "oscar", "lee", "tina", "tess", "alice", "sam"]
NOT_STAFF = ["anonymous", "oscar", "lee", "tina"]
STAFF = ["tess", "alice", "sam"]
PAGES = ["changelist", "add", "change", "save", "delete", "history"]

OK, NO, SKIP = 200, 403, None


def pages(changelist: int, add: int, change: int, delete: int, *, save: int | None = SKIP):
    """The answers for one staff persona; a page they may not view refuses saving too."""
    save = NO if change == NO else save
    return dict(zip(PAGES, (changelist, add, change, save, delete, changelist), strict=True))


NOTHING = pages(NO, NO, NO, NO)
READ = pages(OK, NO, OK, NO, save=NO)  # view only: the change page is read-only
WORK = pages(OK, OK, OK, NO)  # add and change, never delete
ALL = pages(OK, OK, OK, OK)
READ_ADD = pages(OK, OK, OK, NO, save=NO)

# label -> answers for tess, alice, sam
MATRIX: dict[str, tuple[dict, dict, dict]] = {
    "incidents.Incident": (WORK, WORK, WORK),
    "incidents.Problem": (WORK, WORK, WORK),
    "incidents.ProblemTask": (WORK, WORK, WORK),
    "incidents.Change": (WORK, WORK, WORK),
    "incidents.TimelineEntry": (READ, READ, READ),
    "incidents.ConfigurationItem": (READ, ALL, ALL),
    "incidents.CIDependency": (READ, ALL, ALL),
    "incidents.SystemProperty": (NOTHING, READ, pages(OK, NO, OK, NO)),
    "incidents.MajorIncident": (READ, pages(OK, OK, OK, NO), pages(OK, OK, OK, NO)),
    "incidents.RoleRoster": (NOTHING, ALL, ALL),
    "incidents.RaciActivity": (READ, READ, pages(OK, OK, OK, NO)),
    "incidents.AutoDeclarationRule": (NOTHING, READ, ALL),
    "incidents.MajorIncidentCandidate": (READ, pages(OK, NO, OK, NO), pages(OK, NO, OK, NO)),
    "incidents.EscalationPolicy": (NOTHING, READ, pages(OK, OK, OK, NO)),
    "incidents.EscalationFiring": (READ, READ, READ),
    "auth.User": (NOTHING, READ, pages(OK, OK, OK, NO)),
    "auth.Group": (NOTHING, NOTHING, pages(OK, NO, OK, NO)),
    "django_celery_beat.PeriodicTask": (NOTHING, NOTHING, pages(OK, NO, OK, NO)),
    "django_celery_beat.IntervalSchedule": (NOTHING, NOTHING, NOTHING),
    "django_celery_beat.CrontabSchedule": (NOTHING, NOTHING, NOTHING),
    "django_celery_beat.SolarSchedule": (NOTHING, NOTHING, NOTHING),
    "django_celery_beat.ClockedSchedule": (NOTHING, NOTHING, NOTHING),
    # The war room's first-hour templates are reference data; checkpoints and assessment
    # revisions are records, changed in the war room only.
    "warroom.CheckpointTemplate": (NOTHING, pages(OK, OK, OK, NO), pages(OK, OK, OK, NO)),
    "warroom.Checkpoint": (NOTHING, READ, READ),
    "warroom.AssessmentRevision": (NOTHING, READ, READ),
    # The war room's records: managers read them across MIs; they change in the war room.
    "warroom.Thread": (NOTHING, READ, READ),
    "warroom.ActionItem": (NOTHING, READ, READ),
    "warroom.BridgeAttendance": (NOTHING, READ, READ),
    "warroom.ScratchpadVersion": (NOTHING, READ, READ),
    # Who hears what is kept by ITSM managers (super admins also delete); the updates, the outbox
    # and the rest are the system's records, read-only for both.
    "comms.StakeholderGroup": (NOTHING, WORK, ALL),
    "comms.CommunicationPlanEntry": (NOTHING, WORK, ALL),
    "comms.MessageTemplate": (NOTHING, WORK, ALL),
    "comms.StakeholderUpdate": (NOTHING, READ, READ),
    "comms.OutboxMessage": (NOTHING, READ, READ),
    "comms.IncidentChannel": (NOTHING, READ, READ),
    "comms.CommsState": (NOTHING, READ, READ),
    "comms.ExternalRecord": (NOTHING, READ, READ),
    # Maintenance windows are planned by ITSM managers; subscribers sign up and confirm on the
    # status page themselves, so the admin only reads them (super admins also delete). Windows
    # are public records: completed, never deleted.
    "comms.ScheduledMaintenance": (NOTHING, WORK, WORK),
    # Monitoring sources are a super admin's (their secret opens the door); label rules are kept
    # by ITSM managers; payloads and alert groups are records.
    "comms.InboundSource": (NOTHING, READ, ALL),
    "comms.LabelRule": (NOTHING, WORK, ALL),
    "comms.InboundEvent": (NOTHING, READ, READ),
    "comms.AlertGroup": (NOTHING, READ, READ),
    # Mail in's records: what the poller read, and how far; nobody edits them.
    "comms.InboundMail": (NOTHING, READ, READ),
    "comms.MailboxState": (NOTHING, READ, READ),
    "comms.StatusSubscriber": (NOTHING, READ, pages(OK, NO, OK, OK, save=NO)),
    # Reviews are written on their page; managers read them here, super admins also delete.
    "pir.PostIncidentReview": (NOTHING, READ, pages(OK, NO, OK, OK, save=NO)),
    "pir.ReviewActionItem": (NOTHING, READ, pages(OK, NO, OK, OK, save=NO)),
    "pir.ReviewComment": (NOTHING, READ, pages(OK, NO, OK, OK, save=NO)),
    "pir.KpiReport": (NOTHING, READ, READ),
}


@pytest.fixture
def people(request, populated, tina, alice, sam, lee, oscar) -> dict[str, Any]:  # noqa: F811
    from django_celery_beat.models import ClockedSchedule, CrontabSchedule, SolarSchedule

    # One row of each schedule, so every change page has a row to show.
    SolarSchedule.objects.create(event="sunrise", latitude=1, longitude=1)
    CrontabSchedule.objects.get_or_create(minute="5")
    from django.utils import timezone

    ClockedSchedule.objects.create(clocked_time=timezone.now())
    _comms_records()
    _problem_task()
    _pir_records()
    tess = make_user("usr_tess_tech", "technician", staff=True)
    return {"oscar": oscar, "lee": lee, "tina": tina, "tess": tess, "alice": alice, "sam": sam}


def _comms_records() -> None:
    """One of each comms record on the populated MI (the plan, groups and templates are seeded)."""
    from comms.models import (
        CommsState,
        DeliveryAttempt,
        ExternalRecord,
        IncidentChannel,
        OutboxMessage,
        StakeholderUpdate,
    )
    from incidents.models import MajorIncident

    mi = MajorIncident.objects.order_by("id").first()
    assert mi is not None
    update = StakeholderUpdate.objects.create(
        major_incident=mi, update_type="cadence", current_impact="API down",
        current_action="Failing over", user_action="Retry later", status="sent",
    )  # fmt: skip
    message = OutboxMessage.objects.create(
        idempotency_key="admin-permissions", channel="email", recipient="cio@example.test",
        major_incident=mi, update=update, purpose="cadence", status="failed", attempts=1,
    )  # fmt: skip
    DeliveryAttempt.objects.create(message=message, number=1, outcome="temporary", error="421")
    IncidentChannel.objects.get_or_create(major_incident=mi, defaults={"name": "incident-x"})
    CommsState.objects.get_or_create(major_incident=mi)
    ExternalRecord.objects.get_or_create(major_incident=mi, channel="statuspage")
    _status_records()


def _status_records() -> None:
    """A maintenance window on a business service, and a confirmed status page subscriber."""
    from datetime import timedelta

    from django.utils import timezone

    from comms.models import ScheduledMaintenance, StatusSubscriber
    from incidents.models import ConfigurationItem

    start = timezone.now() + timedelta(days=1)
    window = ScheduledMaintenance.objects.create(
        name="Database upgrade", scheduled_for=start, scheduled_until=start + timedelta(hours=2)
    )
    service = ConfigurationItem.objects.filter(kind="business_service").first()
    if service is not None:
        window.components.add(service)
    StatusSubscriber.objects.create(email="pat@example.test", confirmed_at=timezone.now())
    _mail_records()
    _inbound_records()


def _inbound_records() -> None:
    """A source, a label rule, a payload and the alert group it opened."""
    from comms.models import AlertGroup, InboundEvent, InboundSource, LabelRule
    from incidents.models import Incident

    source = InboundSource.objects.create(kind="alertmanager", name="prom", secret="s" * 40)
    LabelRule.objects.create(name="checkout", label="service", pattern="checkout")
    incident = Incident.objects.order_by("id").first()
    InboundEvent.objects.create(source=source, body="{}", outcome="created", incident=incident)
    AlertGroup.objects.create(
        source=source, key_hash="0" * 64, dedup_key="{}:{}", incident=incident
    )


def _mail_records() -> None:
    """A mail the poller turned into an incident, and its folder's read position."""
    from comms.models import InboundMail, MailboxState
    from incidents.models import Incident

    MailboxState.objects.create(mailbox="INBOX", uid_validity=7, last_uid=1)
    InboundMail.objects.create(
        mailbox="INBOX", uid_validity=7, uid=1, message_id="<a@example.test>",
        sender="pat@example.test", subject="VPN down", outcome="created",
        incident=Incident.objects.order_by("id").first(),
    )  # fmt: skip


def _pir_records() -> None:
    """A review of the populated MI with a comment and an action item, and a KPI report."""
    from datetime import date

    from incidents.models import MajorIncident
    from pir.models import KpiReport, PostIncidentReview, ReviewActionItem, ReviewComment

    mi = MajorIncident.objects.order_by("id").first()
    assert mi is not None
    review, _ = PostIncidentReview.objects.get_or_create(major_incident=mi)
    ReviewComment.objects.create(review=review, section="summary", body="Say who was hit.")
    ReviewActionItem.objects.create(review=review, title="Add a canary", priority=2)
    KpiReport.objects.get_or_create(month=date(2026, 1, 1))


def _problem_task() -> None:
    from incidents.models import Problem, ProblemTask

    problem = Problem.objects.order_by("id").first() or Problem.objects.create(
        short_description="Recurring checkout failures"
    )
    ProblemTask.objects.create(problem=problem, short_description="Add a canary for config")


def _client(people: dict[str, Any], persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(people[persona])
    return client


def test_every_admin_model_is_in_the_matrix() -> None:
    assert set(MATRIX) == {model._meta.label for model in admin.site._registry}


CODENAME = re.compile(r"\b[a-z_]+\.(view|add|change|delete|declare)_[a-z_]+\b")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("label", MATRIX)
def test_admin_page_permissions(people, persona, page, label):
    pk = _any_pk(label)
    assert pk is not None, label
    client = _client(people, persona)
    url = _url(label, "change" if page == "save" else page, pk)
    if persona in NOT_STAFF:
        response = client.get(url) if page != "save" else client.post(url, {"_save": "Save"})
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
        return
    expected = MATRIX[label][STAFF.index(persona)][page]
    if expected is SKIP:
        return  # a permitted save needs the model's whole form; the save tests post those
    rows = TimelineEntry.objects.count()
    response = client.post(url, {"_save": "Save"}) if page == "save" else client.get(url)
    assert response.status_code == expected, (label, page, response.content.decode()[:500])
    if response.status_code == 403:
        body = response.content.decode()
        assert re.search(r"Only .+ may |No role may |fixed by the code|log|record|never", body)
        assert not CODENAME.search(body)
        assert TimelineEntry.objects.count() == rows


# (label, action) -> the staff personas it is offered to
ACTIONS = {
    ("incidents.Incident", "acknowledge_selected"): {"tess", "alice", "sam"},
    ("incidents.Incident", "declare_major_incident"): {"alice", "sam"},
    ("incidents.Incident", "delete_selected"): set(),  # incidents are never deleted
    ("incidents.MajorIncidentCandidate", "accept_selected"): {"alice", "sam"},
    ("incidents.MajorIncidentCandidate", "reject_selected"): {"alice", "sam"},
    ("incidents.AutoDeclarationRule", "dry_run_selected"): {"alice", "sam"},
    ("incidents.ConfigurationItem", "delete_selected"): {"alice", "sam"},
    ("incidents.RoleRoster", "delete_selected"): {"alice", "sam"},
    ("incidents.MajorIncident", "delete_selected"): set(),
    ("incidents.SystemProperty", "delete_selected"): set(),
    ("comms.OutboxMessage", "retry_selected"): {"alice", "sam"},
    ("comms.OutboxMessage", "delete_selected"): set(),
    ("comms.StakeholderUpdate", "delete_selected"): set(),
    ("comms.StakeholderGroup", "delete_selected"): {"sam"},
    ("comms.MessageTemplate", "delete_selected"): {"sam"},
}


@pytest.mark.parametrize("persona", STAFF)
@pytest.mark.parametrize(("label", "action"), list(ACTIONS))
def test_admin_actions_are_offered_to_whom_they_may(people, persona, label, action):
    response = _client(people, persona).get(_url(label))
    offered = f'<option value="{action}">' in response.content.decode()
    assert offered is (persona in ACTIONS[(label, action)]), (label, action, response.status_code)


@pytest.mark.parametrize("persona", STAFF)
def test_an_action_not_offered_does_nothing_when_posted(people, persona):
    """tess may not declare: posting the action by hand declares nothing."""
    incident = Incident.objects.filter(major_incident__isnull=True).order_by("id").first()
    assert incident is not None
    _client(people, persona).post(
        _url("incidents.Incident"),
        {"action": "declare_major_incident", "_selected_action": [incident.pk]},
    )
    declared = Incident.objects.filter(pk=incident.pk, major_incident__isnull=False).exists()
    assert declared is selectors.can(people[persona], "declare")


@pytest.mark.parametrize(
    ("persona", "matrix", "dry_run"),
    [
        ("anonymous", 302, 302),
        ("tina", 302, 302),
        ("tess", OK, NO),
        ("alice", OK, OK),
        ("sam", OK, OK),
    ],
)
def test_admin_custom_pages(people, persona, matrix, dry_run):
    client = _client(people, persona)
    assert client.get("/admin/incidents/raciactivity/matrix/").status_code == matrix
    rule = AutoDeclarationRule.objects.order_by("id").first()
    response = client.get(f"/admin/incidents/autodeclarationrule/{rule.pk}/dry-run/")
    assert response.status_code == dry_run
    if dry_run == NO:
        assert "may see auto declaration rules" in response.content.decode()


def test_a_refused_admin_page_says_who_may(people):
    response = _client(people, "alice").get(_url("auth.Group"))
    assert response.status_code == 403
    assert "Only super admins may see groups." in response.content.decode()
    response = _client(people, "sam").get(_url("incidents.SystemProperty", "add"))
    assert "The set of system properties is fixed by the code." in response.content.decode()
    pk = _any_pk("incidents.Incident")
    response = _client(people, "sam").get(_url("incidents.Incident", "delete", pk))
    assert "Incidents are records: cancel them, never delete them." in response.content.decode()
