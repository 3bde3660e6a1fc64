"""The worker keeps up and loses nothing (issue 6, item 7).

- A CMDB edit is one task and a handful of SQL statements, not one task (and one transaction)
  per open incident it reaches.
- What a CMDB edit owes is recorded in the database with the edit; the every-minute reconcile
  applies it when the message is lost or the refresh died half-way.
- The tasks beat runs go to a queue of their own, carry an expiry, and every task has time
  limits; on Redis the visibility timeout outlasts them.

Messages are published for real (kombu's filesystem transport into a folder of the test's own),
not inspected through Celery's internals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_prerun
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry
from kombu import Connection

import incidents.tasks
from incidents import services, tasks
from incidents.models import (
    Incident,
    MajorIncident,
    PendingImpactRefresh,
    TimelineKind,
)
from incidents.selectors import cmdb

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def diamond(make_ci: Callable[..., Any]) -> tuple[Any, Any, Any, Any]:
    """A <- B, A <- C, B <- D, C <- D (``x <- y``: y depends on x); 1 + 10 + 100 + 1000 users."""
    a = make_ci("A", users=1)
    b = make_ci("B", users=10, depends_on=(a,))
    c = make_ci("C", users=100, depends_on=(a,))
    d = make_ci("D", users=1000, depends_on=(b, c))
    return a, b, c, d


@pytest.fixture
def tasks_run() -> Iterator[Counter[str]]:
    """The names of the Celery tasks that run (eagerly, in the test settings) while it is open."""
    ran: Counter[str] = Counter()

    def count(sender: Any = None, **kwargs: Any) -> None:
        ran[sender.name] += 1

    task_prerun.connect(count, weak=False)
    yield ran
    task_prerun.disconnect(count)


def _open_p3s(make_incident: Callable[..., Any], cis: list[Any], n: int) -> list[Incident]:
    return [make_incident(affected_ci=cis[k % len(cis)], impact=3, urgency=3) for k in range(n)]


def _stale(incidents: list[Incident]) -> list[str]:
    """The incidents whose affected users are not what the CMDB says now."""
    out = []
    for incident in incidents:
        incident.refresh_from_db()
        if incident.affected_users != cmdb.affected_users(incident.affected_ci_id):
            out.append(incident.number)
    return out


# --- One task per CMDB edit ---------------------------------------------------------------------


def test_a_cmdb_edit_is_one_task_not_one_per_incident(
    alice_api, make_incident, diamond, tasks_run, django_capture_on_commit_callbacks
):
    a, b, c, d = diamond
    incidents = _open_p3s(make_incident, [a, b, c], 30)
    tasks_run.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.patch(f"/api/cis/{d.pk}/", {"user_count": 2000}, format="json")
    assert response.status_code == 200, response.content
    # Before: one refresh, then one evaluate_incident per changed incident (30 here, ~2,500 per
    # edit in the trial). No P3 can match a rule, so no rule task at all.
    assert dict(tasks_run) == {"incidents.tasks.refresh_affected_users": 1}
    assert _stale(incidents) == []
    assert all(i.timeline.filter(kind=TimelineKind.IMPACT_CHANGED).count() == 1 for i in incidents)


@pytest.mark.parametrize("n", [5, 60])
def test_the_refresh_costs_the_same_statements_for_5_or_60_incidents(
    n, make_incident, diamond, django_assert_max_num_queries
):
    a, b, c, d = diamond
    incidents = _open_p3s(make_incident, [a, b, c], n)
    type(d).objects.filter(pk=d.pk).update(user_count=5000)  # behind the services' back
    # claim, walk up, lock, walk down, one UPDATE per distinct new figure (3 CIs), one INSERT of
    # timeline rows, delete the claimed rows, the rules' candidates; plus the transaction's own.
    with django_assert_max_num_queries(12):
        assert services.refresh_affected_users_now([d.pk]) == n
    assert _stale(incidents) == []


def test_a_p1_a_cmdb_edit_pushes_over_the_threshold_is_declared(
    alice_api, roster_ic, make_ci, make_incident, tasks_run, django_capture_on_commit_callbacks
):
    small = make_ci("Reporting", users=10)
    with django_capture_on_commit_callbacks(execute=True):
        p1 = make_incident(affected_ci=small, impact=1, urgency=1)
        others = _open_p3s(make_incident, [small], 5)
    assert not MajorIncident.objects.exists()  # 10 users: under the rule's 50
    tasks_run.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.patch(f"/api/cis/{small.pk}/", {"user_count": 5000}, format="json")
    assert response.status_code == 200, response.content
    # One task for the rules of the incidents a rule could match (the P1), not one per incident.
    assert dict(tasks_run) == {
        "incidents.tasks.refresh_affected_users": 1,
        "incidents.tasks.evaluate_incidents": 1,
    }
    mi = MajorIncident.objects.get()
    assert mi.incident_id == p1.pk
    assert mi.trigger_rule.name == "P1 reaching many users"
    assert _stale([p1, *others]) == []


def test_evaluating_an_incident_no_rule_could_match_takes_no_write_lock(
    make_incident, django_assert_max_num_queries
):
    """Most writes are no P1: their rule task must not queue behind, nor hold up, the web
    server's writes (on SQLite every transaction takes the database's write lock)."""
    p3 = make_incident(impact=3, urgency=3)
    with CaptureQueriesContext(connection) as queries:
        outcome = services.evaluate_incident(p3.pk)
    assert outcome.action == ""
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements and set(statements) == {"SELECT"}, statements


# --- Nothing lost -------------------------------------------------------------------------------


def test_a_lost_refresh_message_is_applied_by_the_reconcile(
    alice_api, make_incident, diamond, django_capture_on_commit_callbacks
):
    a, b, c, d = diamond
    incidents = _open_p3s(make_incident, [a, b, c], 12)
    # The edit commits, its message never reaches a worker (the hooks are not run).
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        response = alice_api.patch(f"/api/cis/{d.pk}/", {"user_count": 2000}, format="json")
    assert response.status_code == 200, response.content
    assert len(hooks) == 1
    assert len(_stale(incidents)) == 12
    assert list(PendingImpactRefresh.objects.values_list("ci_id", flat=True)) == [d.pk]

    assert tasks.reconcile() == 12
    assert _stale(incidents) == []
    assert not PendingImpactRefresh.objects.exists()
    assert tasks.reconcile() == 0  # nothing left: idempotent


def test_a_refresh_that_dies_half_way_keeps_its_record_for_the_reconcile(
    make_incident, diamond, monkeypatch, django_capture_on_commit_callbacks
):
    a, b, c, d = diamond
    incidents = _open_p3s(make_incident, [a, b, c], 9)
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        services.save_configuration_item(actor=None, ci=d, user_count=3000)
    assert len(_stale(incidents)) == 9

    # The soft time limit strikes (or the worker dies) after the incidents are locked.
    real = cmdb.affected_users_by_ci

    def out_of_time(ci_ids: Any) -> dict[int, int]:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(cmdb, "affected_users_by_ci", out_of_time)
    with pytest.raises(SoftTimeLimitExceeded):
        tasks.refresh_affected_users([d.pk])
    # All or nothing: no incident half-updated, no timeline row, the record still there.
    assert len(_stale(incidents)) == 9
    assert not incidents[0].timeline.filter(kind=TimelineKind.IMPACT_CHANGED).exists()
    assert PendingImpactRefresh.objects.count() == 1

    monkeypatch.setattr(cmdb, "affected_users_by_ci", real)
    assert tasks.reconcile() == 9
    assert _stale(incidents) == []


def test_a_change_committed_during_a_refresh_keeps_its_own_record(
    make_incident, diamond, monkeypatch
):
    """The refresh deletes the rows it claimed, not every row of its CIs: a change that commits
    while it runs (after the claim) is still owed."""
    a, _b, _c, d = diamond
    incidents = _open_p3s(make_incident, [a], 3)
    PendingImpactRefresh.objects.create(ci_id=d.pk)
    type(d).objects.filter(pk=d.pk).update(user_count=2000)
    real = cmdb.affected_users_by_ci

    def meanwhile(ci_ids: Any) -> dict[int, int]:
        # Another request's change lands after the claim (on SQLite it would wait instead).
        PendingImpactRefresh.objects.create(ci_id=d.pk)
        return real(ci_ids)

    monkeypatch.setattr(cmdb, "affected_users_by_ci", meanwhile)
    assert services.refresh_affected_users_now([d.pk]) == 3
    assert PendingImpactRefresh.objects.count() == 1
    assert _stale(incidents) == []


def test_the_reconcile_leaves_finished_incidents_alone(alice, make_incident, diamond):
    a, *_rest, d = diamond
    done = make_incident(affected_ci=a)
    services.resolve_incident(incident=done, actor=alice, resolution_notes="Restarted")
    PendingImpactRefresh.objects.create(ci_id=d.pk)
    type(d).objects.filter(pk=d.pk).update(user_count=5)
    assert tasks.reconcile() == 0
    done.refresh_from_db()
    assert done.affected_users == 1111
    assert not PendingImpactRefresh.objects.exists()


def test_the_reconcile_handles_more_changes_than_one_batch(make_ci, make_incident):
    # More CIs than SQLite's 500-term compound SELECT and than one batch of the reconcile.
    cis = [make_ci(users=1) for _ in range(520)]
    incidents = [make_incident(affected_ci=ci) for ci in cis[:20]]
    type(cis[0]).objects.filter(pk__in=[ci.pk for ci in cis]).update(user_count=7)
    PendingImpactRefresh.objects.bulk_create(PendingImpactRefresh(ci_id=ci.pk) for ci in cis)
    assert tasks.reconcile() == 20
    assert _stale(incidents) == []
    assert not PendingImpactRefresh.objects.exists()


# --- Queues, expiry, time limits ----------------------------------------------------------------


@pytest.fixture
def broker_folder(tmp_path: Path) -> Iterator[tuple[Connection, Path]]:
    """A filesystem broker of the test's own; Celery sends to it instead of running eagerly."""
    folder = tmp_path / "queue"
    folder.mkdir()
    connection = Connection(
        "filesystem://",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(tmp_path / "control"),
        },
    )
    app = current_app._get_current_object()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield connection, folder
    finally:
        app.conf.task_always_eager = eager
        connection.release()


def _published(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(queue, headers) of every message in the folder (``<ms>_<uuid>.<queue>.msg``)."""
    out = []
    for path in sorted(folder.iterdir()):
        queue = path.name.partition(".")[2].removesuffix(".msg")
        out.append((queue, json.loads(path.read_text())["headers"]))
    return out


def test_beat_rows_go_to_the_periodic_queue_and_expire(db, broker_folder):
    connection, folder = broker_folder
    rows = list(PeriodicTask.objects.filter(task__startswith="incidents.tasks.").order_by("name"))
    assert [r.task for r in rows] == [
        "incidents.tasks.auto_declare",
        "incidents.tasks.evaluate_escalations",
        "incidents.tasks.reconcile",
    ]
    app = current_app._get_current_object()
    with connection.Producer() as producer:
        for row in rows:
            assert row.interval.every == 1 and row.interval.period == "minutes"
            entry = ModelEntry(row, app=app)  # what beat sends, with the row's options
            app.tasks[entry.task].apply_async(
                entry.args, entry.kwargs, producer=producer, **entry.options
            )
    sent = _published(folder)
    assert [queue for queue, _ in sent] == ["periodic"] * 3
    # A run that did not start within its minute is dropped: the next one does the same work.
    assert all(headers["expires"] for _, headers in sent)
    assert all(row.expire_seconds == 60 for row in rows)


def test_every_beat_row_of_every_app_is_routed_to_periodic(db):
    """The contract for the apps to come (comms, warroom, pir): a beat row needs its route."""
    router = current_app.amqp.router
    for task in PeriodicTask.objects.values_list("task", flat=True):
        assert router.route({}, task)["queue"].name == "periodic", task


def test_per_event_tasks_go_to_the_events_queue(db, broker_folder):
    connection, folder = broker_folder
    app = current_app._get_current_object()
    per_event = {
        "incidents.tasks.evaluate_incident": (1,),
        "incidents.tasks.evaluate_incidents": ([1, 2],),
        "incidents.tasks.refresh_affected_users": ([1],),
    }
    with connection.Producer() as producer:
        for name, args in per_event.items():
            app.tasks[name].apply_async(args, producer=producer)
    assert [queue for queue, _ in _published(folder)] == ["events"] * 3


def test_every_task_has_a_soft_and_a_hard_time_limit():
    conf = current_app.conf
    assert conf.task_soft_time_limit and conf.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit
    names = [name for name in current_app.tasks if name.startswith("incidents.tasks.")]
    assert len(names) == 6
    for name in names:
        task = current_app.tasks[name]
        # A task's own limit, when it sets one, must not lift the default.
        assert (task.time_limit or conf.task_time_limit) <= conf.task_time_limit, name
        assert task.acks_late, name


def _env(var: Path, **extra: str) -> dict[str, str]:
    """A fresh process's environment: the test settings, none of this run's broker or database
    (CI's PostgreSQL pass sets both), files under ``var``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "MIM_", "DJANGO_", "DATABASE_", "CACHE_"))
    }
    env.update(
        {"MIM_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "config.test_settings",
         "PYTHONPATH": str(REPO), **extra}
    )  # fmt: skip
    return env


def _settings_of(broker: str, tmp_path: Path) -> dict[str, Any]:
    """The Celery settings a process started with ``CELERY_BROKER_URL=broker`` would use."""
    env = _env(tmp_path / "var", CELERY_BROKER_URL=broker)
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ('CELERY_BROKER_TRANSPORT_OPTIONS', "
        "'CELERY_TASK_TIME_LIMIT', 'CELERY_WORKER_PREFETCH_MULTIPLIER', 'CELERY_TASK_ACKS_LATE')}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_on_redis_a_killed_workers_message_comes_back_after_the_tasks_could_have_run(tmp_path):
    conf = _settings_of("redis://127.0.0.1:6379/4", tmp_path)
    assert conf["CELERY_TASK_ACKS_LATE"] is True
    hard = conf["CELERY_TASK_TIME_LIMIT"]
    assert hard
    # A reserved message waits behind up to `prefetch` running tasks, then runs itself: it must
    # not be handed to another worker before that.
    longest_unacked = (conf["CELERY_WORKER_PREFETCH_MULTIPLIER"] + 1) * hard
    visibility = (conf["CELERY_BROKER_TRANSPORT_OPTIONS"] or {}).get("visibility_timeout")
    assert visibility is not None
    assert longest_unacked < visibility <= 3600


def test_the_filesystem_broker_keeps_its_control_exchange_under_var(tmp_path):
    """kombu writes the exchange tables of fanout exchanges (the workers' pidbox) to ./control
    unless told where: the checkout had a committed control/ folder."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    var = tmp_path / "var"
    env = _env(var)
    code = (
        "import django; django.setup()\n"
        "from kombu import Exchange, Queue\n"
        "from config.celery import app\n"
        "with app.connection_for_write() as conn:\n"
        "    Queue('probe', Exchange('probe.pidbox', type='fanout'))(conn.default_channel)"
        ".declare()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)
    assert not (cwd / "control").exists()
    assert (var / "broker" / "control" / "probe.pidbox.exchange").exists()
    assert not (REPO / "control").exists()


def test_a_process_that_never_imported_the_tasks_can_queue_them(tmp_path):
    """gunicorn and manage.py never run Celery's autodiscovery; enqueueing by name must still
    find the task (it raised NotRegistered after every commit, seed_demo included): the app's
    ready() registers its tasks."""
    var = tmp_path / "var"
    env = _env(var, CELERY_TASK_ALWAYS_EAGER="false")
    code = (
        "import sys, django; django.setup()\n"
        "from incidents import services\n"
        "from incidents.models import Incident\n"
        "services.evaluate_rules_after_commit(Incident(pk=41))\n"  # outside a transaction: now
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Error calling" not in done.stderr, done.stderr
    sent = _published(var / "broker" / "queue")
    assert [(queue, headers["task"], headers["argsrepr"]) for queue, headers in sent] == [
        ("events", "incidents.tasks.evaluate_incident", "(41,)")
    ]


def test_the_tasks_module_names_are_the_contract():
    assert {t.name for t in vars(incidents.tasks).values() if hasattr(t, "delay")} == {
        "incidents.tasks.refresh_affected_users",
        "incidents.tasks.evaluate_incident",
        "incidents.tasks.evaluate_incidents",
        "incidents.tasks.auto_declare",
        "incidents.tasks.evaluate_escalations",
        "incidents.tasks.reconcile",
    }
