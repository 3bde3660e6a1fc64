"""First-hour checkpoints: made at declaration, falling due and late on time with the clock
frozen, ticked by the events that fulfil them and by hand, over the API and the page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents import services as incident_services
from incidents.events import send_after_commit
from incidents.models import MajorIncident, MIStatus, RaciRole, TimelineEntry, TimelineKind
from tests.warroom.conftest import T0, declare, force_status
from warroom import events, services, tasks
from warroom.models import COMMAND_THREAD, Checkpoint, CheckpointTemplate, Fulfilment, Thread

ROLES = "Roles assigned: IC, technical lead, communications lead"


def at(minutes: float) -> Any:
    return T0 + timedelta(seconds=round(minutes * 60))


def api_as(user: Any) -> APIClient:
    """A client logged in as ``user`` whatever the frozen clock says (a token would be dated)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(mi: MajorIncident) -> str:
    return f"/api/major-incidents/{mi.number}/checkpoints/"


def by_name(mi: MajorIncident) -> dict[str, Checkpoint]:
    return {row.name: row for row in Checkpoint.objects.filter(major_incident=mi)}


def late_rows(mi: MajorIncident) -> list[str]:
    return list(
        TimelineEntry.objects.filter(
            major_incident=mi, kind=TimelineKind.CHECKPOINT, message__startswith="Checkpoint late"
        ).values_list("message", flat=True)
    )


@pytest.fixture
def room(make_incident: Callable[..., Any], alice: Any) -> MajorIncident:
    """An MI declared at T0 by alice (its IC), with its checkpoints."""
    with freeze_time(T0):
        mi = declare(make_incident(impact=1, urgency=1), alice)
        services.open_checkpoints(mi.pk)
    return mi


@pytest.fixture
def mate(room: MajorIncident, alice: Any, person: Callable[..., Any]) -> Any:
    """A technician on ``room``'s team (technical lead)."""
    user = person("usr_bob_builder", "technician")
    incident_services.assign_role(mi=room, actor=alice, role=RaciRole.TECHNICAL_LEAD, user=user)
    return user


@pytest.fixture
def run(django_capture_on_commit_callbacks: Any) -> Callable[[], dict[str, int]]:
    """Run the every-minute task as beat would, its after-commit signals sent."""

    def _run() -> dict[str, int]:
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.check_checkpoints()

    return _run


# --- Made at declaration --------------------------------------------------------------------------


def test_declaring_opens_the_seeded_first_hour_checkpoints(
    make_incident, alice, django_capture_on_commit_callbacks
):
    with freeze_time(T0), django_capture_on_commit_callbacks(execute=True):
        mi = declare(make_incident(impact=1, urgency=1), alice)
    rows = list(Checkpoint.objects.filter(major_incident=mi).order_by("due_at", "id"))
    assert [(r.name, r.due_at - T0) for r in rows] == [
        (ROLES, timedelta(minutes=5)),
        ("Subsystem owners named", timedelta(minutes=15)),
        ("Initial assessment written", timedelta(minutes=15)),
        ("First internal stakeholder update sent", timedelta(minutes=30)),
        ("External (customer) update sent", timedelta(minutes=45)),
        ('"Resolved" criteria written', timedelta(minutes=60)),
        ("Post-incident owner and deadline set", timedelta(minutes=60)),
    ]
    assert rows[1].starts_at == T0 + timedelta(minutes=5)
    assert {r.phase for r in rows} >= {"0–5 min: declare and mobilize", "15–30 min: mitigate"}
    # Idempotent: the sweep's backstop or a second receiver makes no second set.
    services.open_checkpoints(mi.pk)
    assert Checkpoint.objects.filter(major_incident=mi).count() == 7


def test_an_inactive_or_edited_template_shapes_the_next_mis_checkpoints(room, make_incident, alice):
    CheckpointTemplate.objects.filter(fulfilled_by=Fulfilment.PIR_OWNER).update(active=False)
    CheckpointTemplate.objects.filter(fulfilled_by=Fulfilment.ROLES_ASSIGNED).update(
        due_after_minutes=7
    )
    with freeze_time(at(10)):
        other = declare(make_incident(impact=1, urgency=1), alice)
        services.open_checkpoints(other.pk)
    names = by_name(other)
    assert "Post-incident owner and deadline set" not in names
    assert names[ROLES].due_at == at(17)
    assert by_name(room)[ROLES].due_at == at(5)  # declared before: kept as it was


def test_the_sweep_backstops_an_mi_whose_declaration_receiver_never_ran(make_incident, alice, run):
    with freeze_time(T0):
        mi = declare(make_incident(impact=1, urgency=1), alice)  # on-commit hooks not run
    assert not Checkpoint.objects.filter(major_incident=mi).exists()
    with freeze_time(at(1)):
        run()
    assert Checkpoint.objects.filter(major_incident=mi).count() == 7


# --- Due and late, with the clock frozen ----------------------------------------------------------


def test_at_four_minutes_nothing_is_late_and_the_first_checkpoint_is_due(room, run, listen, alice):
    due, late = listen(events.checkpoint_due), listen(events.checkpoint_late)
    with freeze_time(at(4)):
        assert run() == {"due": 1, "late": 0}
        body = api_as(alice).get(url(room)).json()
    assert [c["checkpoint_id"] for c in due.calls] == [by_name(room)[ROLES].pk]
    assert due.calls[0]["major_incident_id"] == room.pk
    assert late.calls == []
    assert not any(row["late"] for row in body)
    assert late_rows(room) == []


def test_at_five_minutes_and_one_second_roles_are_late_once_however_often_the_task_runs(
    room, run, listen, alice
):
    late = listen(events.checkpoint_late)
    with freeze_time(at(5)):
        run()
    assert late.calls == []  # due at 09:05:00: not late at 09:05:00
    with freeze_time(at(5 + 1 / 60)):
        assert run()["late"] == 1
        assert run() == {"due": 0, "late": 0}
        body = api_as(alice).get(url(room)).json()
    roles = by_name(room)[ROLES]
    assert late.calls == [{"major_incident_id": room.pk, "checkpoint_id": roles.pk}]
    assert late_rows(room) == [f"Checkpoint late: {ROLES} (due 09:05 UTC)"]
    assert [(row["name"], row["late"]) for row in body if row["late"]] == [(ROLES, True)]
    assert roles.late_notified_at == at(5 + 1 / 60)


def test_a_checkpoint_is_due_at_its_start_not_before(room, run, listen):
    due = listen(events.checkpoint_due)
    with freeze_time(at(4 + 59 / 60)):
        run()
    assert len(due.calls) == 1  # only the 0–5 one
    with freeze_time(at(5)):
        run()
        run()
    owners = by_name(room)["Subsystem owners named"]
    assert [c["checkpoint_id"] for c in due.calls[1:]].count(owners.pk) == 1
    assert len(due.calls) == 3  # + subsystem owners and assessment (both start at 5)


@pytest.mark.parametrize(
    ("name", "due_minutes"),
    [
        (ROLES, 5),
        ("Subsystem owners named", 15),
        ("Initial assessment written", 15),
        ("First internal stakeholder update sent", 30),
        ("External (customer) update sent", 45),
        ('"Resolved" criteria written', 60),
        ("Post-incident owner and deadline set", 60),
    ],
)
def test_each_checkpoint_goes_late_on_time(room, run, listen, name, due_minutes):
    late = listen(events.checkpoint_late)
    checkpoint = by_name(room)[name]
    with freeze_time(at(due_minutes)):
        run()
    assert checkpoint.pk not in [c["checkpoint_id"] for c in late.calls]
    with freeze_time(at(due_minutes + 1 / 60)):
        run()
    assert [c["checkpoint_id"] for c in late.calls].count(checkpoint.pk) == 1


def test_a_beat_down_for_an_hour_catches_up_once(room, run, listen):
    due, late = listen(events.checkpoint_due), listen(events.checkpoint_late)
    with freeze_time(at(61)):
        assert run() == {"due": 7, "late": 7}
        assert run() == {"due": 0, "late": 0}
    assert len(due.calls) == len(late.calls) == 7
    assert len(late_rows(room)) == 7


def test_done_checkpoints_and_closed_mis_are_never_late(room, run, listen, alice, mate):
    late = listen(events.checkpoint_late)
    roles = by_name(room)[ROLES]
    with freeze_time(at(3)):
        services.tick_checkpoint(checkpoint=roles, actor=mate)
    with freeze_time(at(10)):
        run()
    assert late.calls == []
    force_status(room, MIStatus.CANCELLED)
    with freeze_time(at(90)):
        run()
    assert late.calls == []


def test_the_sweep_costs_the_same_queries_for_two_or_six_mis(make_incident, alice):
    def queries(n: int) -> int:
        with freeze_time(T0):
            mis = [declare(make_incident(impact=1, urgency=1), alice) for _ in range(n)]
            for mi in mis:
                services.open_checkpoints(mi.pk)
        with freeze_time(at(61)), CaptureQueriesContext(connection) as ctx:
            assert services.check_checkpoints() == {"due": 7 * n, "late": 7 * n}
        MajorIncident.objects.filter(pk__in=[m.pk for m in mis]).update(status=MIStatus.CLOSED)
        return len(ctx.captured_queries)

    assert queries(2) == queries(6)


def test_the_task_has_its_every_minute_beat_row(db):
    row = PeriodicTask.objects.get(name="warroom.tasks.check_checkpoints")
    assert row.task == "warroom.tasks.check_checkpoints"
    assert (row.interval.every, row.interval.period) == (1, "minutes")
    assert row.enabled and row.expire_seconds == 60


# --- Ticked by the events that fulfil them --------------------------------------------------------


def test_assigning_tech_lead_and_comms_lead_ticks_roles_assigned(
    room, alice, person, django_capture_on_commit_callbacks, listen
):
    done = listen(events.checkpoint_done)
    tech, comms = person("usr_tara_tech", "technician"), person("usr_cara_comms", "technician")
    with freeze_time(at(2)), django_capture_on_commit_callbacks(execute=True):
        incident_services.assign_role(mi=room, actor=alice, role=RaciRole.TECHNICAL_LEAD, user=tech)
    assert by_name(room)[ROLES].done_at is None  # the comms lead is still missing
    with freeze_time(at(3)), django_capture_on_commit_callbacks(execute=True):
        incident_services.assign_role(
            mi=room, actor=alice, role=RaciRole.COMMUNICATIONS_LEAD, user=comms
        )
    with freeze_time(at(4)):
        body = api_as(alice).get(url(room)).json()
    roles = by_name(room)[ROLES]
    assert (roles.done_at, roles.done_by, roles.done_automatically) == (at(3), None, True)
    row = next(c for c in body if c["name"] == ROLES)
    assert (row["done"], row["automatic"], row["done_by"]) == (True, True, None)
    assert done.calls == [
        {
            "major_incident_id": room.pk,
            "checkpoint_id": roles.pk,
            "automatically": True,
            "actor_id": None,
        }
    ]
    assert (
        TimelineEntry.objects.filter(
            major_incident=room, kind=TimelineKind.CHECKPOINT, message__contains="automatically"
        ).count()
        == 1
    )


def test_roles_already_held_at_declaration_tick_at_once(
    make_incident, alice, person, django_capture_on_commit_callbacks
):
    from incidents.models import RoleRoster

    RoleRoster.objects.create(role=RaciRole.TECHNICAL_LEAD, user=person("usr_ted", "technician"))
    RoleRoster.objects.create(
        role=RaciRole.COMMUNICATIONS_LEAD, user=person("usr_cora", "technician")
    )
    with freeze_time(T0), django_capture_on_commit_callbacks(execute=True):
        mi = declare(make_incident(impact=1, urgency=1), alice)
    assert by_name(mi)[ROLES].done_automatically is True


def test_a_subsystem_thread_with_an_owner_ticks_subsystem_owners(
    room, mate, alice, django_capture_on_commit_callbacks
):
    def open_thread(slug: str, owner: Any) -> None:
        # What warroom.services.open_thread does: the row, then thread_opened after commit.
        with django_capture_on_commit_callbacks(execute=True):
            thread = Thread.objects.create(
                major_incident=room, slug=slug, name=slug.title(), owner=owner, created_by=alice
            )
            send_after_commit(
                events.thread_opened,
                major_incident_id=room.pk,
                thread_id=thread.pk,
                owner_id=owner and owner.pk,
                actor_id=alice.pk,
            )

    open_thread("database", None)
    assert by_name(room)["Subsystem owners named"].done_at is None  # a thread without an owner
    Thread.objects.filter(slug="database").update(owner=mate)
    open_thread("payments", alice)
    assert by_name(room)["Subsystem owners named"].done_automatically is True


def test_the_first_milestones_of_updates_tick_internal_and_external(
    room, alice, django_capture_on_commit_callbacks
):
    with freeze_time(at(20)), django_capture_on_commit_callbacks(execute=True):
        incident_services.set_milestones(
            mi=room, actor=alice, values={"first_stakeholder_update_at": at(19)}
        )
    names = by_name(room)
    assert names["First internal stakeholder update sent"].done_automatically is True
    assert names["External (customer) update sent"].done_at is None
    with freeze_time(at(35)), django_capture_on_commit_callbacks(execute=True):
        incident_services.set_milestones(
            mi=room, actor=alice, values={"first_customer_update_at": at(34)}
        )
    assert by_name(room)["External (customer) update sent"].done_at == at(35)


@pytest.mark.parametrize(
    ("message", "thread", "ticks"),
    [
        ("Resolved when checkout errors stay under 0.1 % for 30 min", COMMAND_THREAD, True),
        ("**Resolved when** the queue has drained", COMMAND_THREAD, True),
        ("Resolved when the database is back", "database", False),
        ("We roll back the release", COMMAND_THREAD, False),
    ],
)
def test_a_resolved_when_decision_in_the_command_thread_ticks_resolution_criteria(
    room, alice, django_capture_on_commit_callbacks, message, thread, ticks
):
    with freeze_time(at(50)), django_capture_on_commit_callbacks(execute=True):
        entry = TimelineEntry.objects.create(
            incident=room.incident,
            major_incident=room,
            kind=TimelineKind.DECISION,
            message=message,
            thread=thread,
            actor=alice,
        )
        send_after_commit(
            events.timeline_post_added,
            major_incident_id=room.pk,
            entry_id=entry.pk,
            kind=TimelineKind.DECISION,
            thread=thread,
            actor_id=alice.pk,
        )
    done = by_name(room)['"Resolved" criteria written'].done_at is not None
    assert done is ticks


def test_a_problem_manager_ticks_the_post_incident_owner(
    room, alice, person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.assign_role(
            mi=room, actor=alice, role=RaciRole.PROBLEM_MANAGER, user=person("usr_pm", "technician")
        )
    assert by_name(room)["Post-incident owner and deadline set"].done_automatically is True


def test_fulfilment_never_ticks_a_closed_mis_checkpoints(room, alice):
    force_status(room, MIStatus.CLOSED)
    assert services.fulfil(room.pk, Fulfilment.ROLES_ASSIGNED) == []
    assert by_name(room)[ROLES].done_at is None


# --- By hand, over the API ------------------------------------------------------------------------


def test_the_team_ticks_one_by_hand_and_may_reopen_it(
    room, mate, listen, django_capture_on_commit_callbacks
):
    done = listen(events.checkpoint_done)
    owners = by_name(room)["Subsystem owners named"]
    with freeze_time(at(16)), django_capture_on_commit_callbacks(execute=True):
        answer = api_as(mate).patch(url(room), {"id": owners.pk, "done": True}, format="json")
        again = api_as(mate).patch(url(room), {"id": owners.pk, "done": True}, format="json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["done"], body["done_by"], body["automatic"], body["late"]) == (
        True,
        "usr_bob_builder",
        False,
        False,
    )
    assert body["done_at"] == "2025-03-03T09:16:00Z"
    assert again.status_code == 200
    assert done.calls == [
        {
            "major_incident_id": room.pk,
            "checkpoint_id": owners.pk,
            "automatically": False,
            "actor_id": mate.pk,
        }
    ]
    rows = TimelineEntry.objects.filter(major_incident=room, kind=TimelineKind.CHECKPOINT)
    assert [r.message for r in rows] == [
        "Checkpoint done: Subsystem owners named (ticked by usr_bob_builder, 1 min late)"
    ]
    with freeze_time(at(17)):
        reopened = api_as(mate).patch(url(room), {"id": owners.pk, "done": False}, format="json")
    assert reopened.status_code == 200
    assert (reopened.json()["done"], reopened.json()["late"]) == (False, True)
    assert rows.all().count() == 2


def test_reads_for_technicians_and_legal_writes_for_the_team(room, tina, lee, oscar):
    roles = by_name(room)[ROLES]
    for user in (tina, lee):
        assert api_as(user).get(url(room)).status_code == 200
        refused = api_as(user).patch(url(room), {"id": roles.pk, "done": True}, format="json")
        assert refused.status_code == 403, user
        assert "may post to" in refused.json()["detail"]
    assert api_as(oscar).get(url(room)).status_code == 403
    assert (
        api_as(oscar).patch(url(room), {"id": roles.pk, "done": True}, format="json").status_code
        == 403
    )
    assert by_name(room)[ROLES].done_at is None


def test_bearer_token_clients_read_and_are_refused_alike(
    mi, tina_api, oscar_api, as_user, person, alice
):
    services.open_checkpoints(mi.pk)
    assert tina_api.get(url(mi)).status_code == 200
    assert oscar_api.get(url(mi)).status_code == 403
    first = Checkpoint.objects.filter(major_incident=mi).first()
    assert tina_api.patch(url(mi), {"id": first.pk, "done": True}, format="json").status_code == 403
    lead = person("usr_lena_lead", "technician")
    incident_services.assign_role(mi=mi, actor=alice, role=RaciRole.TECHNICAL_LEAD, user=lead)
    answer = as_user(lead).patch(url(mi), {"id": first.pk, "done": True}, format="json")
    assert answer.status_code == 200


def test_an_unknown_mi_is_a_404(alice):
    assert api_as(alice).get("/api/major-incidents/MI9999999/checkpoints/").status_code == 404
    assert api_as(alice).get("/api/major-incidents/nonsense/checkpoints/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "seven", "done": True}, "id"),
        ({"id": 1.5, "done": True}, "id"),
        ({"done": True}, "id"),
        ({"id": 1}, "done"),
        ({"id": 1, "done": "maybe"}, "done"),
        ({"id": 1, "done": True, "note": "x"}, "note"),
        ({"id": 10**30, "done": True}, "id"),
    ],
)
def test_bad_patches_are_400s_naming_the_field(room, mate, body, field):
    answer = api_as(mate).patch(url(room), body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()


def test_another_mis_checkpoint_is_a_400_naming_id(room, mate, make_incident, alice):
    with freeze_time(T0):
        other = declare(make_incident(impact=1, urgency=1), alice)
        services.open_checkpoints(other.pk)
    theirs = Checkpoint.objects.filter(major_incident=other).first()
    answer = api_as(mate).patch(url(room), {"id": theirs.pk, "done": True}, format="json")
    assert answer.status_code == 400
    assert "id" in answer.json()
    assert Checkpoint.objects.get(pk=theirs.pk).done_at is None


@pytest.mark.parametrize("status", [MIStatus.CLOSED, MIStatus.CANCELLED])
def test_a_closed_or_cancelled_mi_is_read_only(room, mate, status):
    force_status(room, status)
    roles = by_name(room)[ROLES]
    answer = api_as(mate).patch(url(room), {"id": roles.pk, "done": True}, format="json")
    assert answer.status_code == 409
    assert status in answer.json()["detail"]
    assert api_as(mate).get(url(room)).status_code == 200


# --- The page's panel -----------------------------------------------------------------------------


def panel_url(mi: MajorIncident) -> str:
    return reverse("warroom:checkpoints", kwargs={"number": mi.number})


def test_the_panel_groups_by_phase_and_late_ones_stand_out(room, run, web, mate):
    with freeze_time(at(5 + 1 / 60)):
        run()
        html = web(mate).get(panel_url(room)).content.decode()
    assert html.index("0–5 min: declare and mobilize") < html.index("45–60 min: transition")
    roles = by_name(room)[ROLES]
    item = html[html.index(f'data-testid="checkpoint-{roles.pk}"') - 80 :]
    item = item[: item.index("</li>")]
    assert "wr-checkpoint--late" in item and ">late<" in item
    assert "1 late" in html
    assert html.count("wr-checkpoint--late") == 1


def test_the_team_ticks_on_the_page_and_sees_who(room, web, mate):
    roles = by_name(room)[ROLES]
    tick = reverse(
        "warroom:checkpoint_tick", kwargs={"number": room.number, "checkpoint_id": roles.pk}
    )
    with freeze_time(at(4)):
        client = web(mate)
        answer = client.post(tick, {"done": "1"})
        assert answer.status_code == 302
        assert answer["Location"] == f"/war-rooms/{room.number}/#checkpoints"
        html = client.get(panel_url(room)).content.decode()
    assert by_name(room)[ROLES].done_by == mate
    assert "by usr_bob_builder" in html and "wr-checkpoint--done" in html
    assert "Reopen" in html


def test_outsiders_cannot_tick_on_the_page(room, web, tina, oscar):
    roles = by_name(room)[ROLES]
    tick = reverse(
        "warroom:checkpoint_tick", kwargs={"number": room.number, "checkpoint_id": roles.pk}
    )
    assert web(tina).post(tick, {"done": "1"}).status_code == 403
    assert web(oscar).post(tick, {"done": "1"}).status_code == 403
    html = web(tina).get(panel_url(room)).content.decode()
    assert ROLES in html and "Tick " not in html  # reads, no buttons
    assert web(oscar).get(panel_url(room)).status_code == 403
    assert by_name(room)[ROLES].done_at is None


def test_a_tick_on_a_closed_mi_says_why_on_the_page(room, web, mate):
    force_status(room, MIStatus.CLOSED)
    roles = by_name(room)[ROLES]
    tick = reverse(
        "warroom:checkpoint_tick", kwargs={"number": room.number, "checkpoint_id": roles.pk}
    )
    client = web(mate)
    answer = client.post(tick, {"done": "1"}, follow=False)
    assert answer.status_code == 302
    stored = [str(m) for m in answer.wsgi_request._messages]
    assert any("read-only" in m for m in stored)
    assert by_name(room)[ROLES].done_at is None


def test_a_template_name_is_escaped_on_the_panel(room, web, mate):
    Checkpoint.objects.filter(major_incident=room, name=ROLES).update(
        name="<script>alert(1)</script>"
    )
    html = web(mate).get(panel_url(room)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_manager_edits_a_template_in_the_admin(alice, browser_for):
    template = CheckpointTemplate.objects.get(fulfilled_by=Fulfilment.EXTERNAL_UPDATE)
    client = browser_for(alice)
    page = f"/admin/warroom/checkpointtemplate/{template.pk}/change/"
    assert client.get(page).status_code == 200
    answer = client.post(
        page,
        {
            "name": template.name,
            "description": template.description,
            "phase": template.phase,
            "starts_after_minutes": 20,
            "due_after_minutes": 40,
            "fulfilled_by": template.fulfilled_by,
            "position": template.position,
            "active": "on",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:500]
    template.refresh_from_db()
    assert (template.starts_after_minutes, template.due_after_minutes) == (20, 40)
    assert client.get(f"/admin/warroom/checkpointtemplate/{template.pk}/delete/").status_code == 403
