"""Every task the services queue, in one place: after commit, by name, with ids.

Work that must not be lost is also recorded in the database, in the transaction of the change
that owes it, so the every-minute reconcile finds it when a message is lost: CMDB changes in
``PendingImpactRefresh``; the auto-declaration rules need no record of their own, because the
every-minute sweep (``auto_declare``) evaluates every open incident a rule could match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import current_app
from django.db import transaction

from ..models import (
    Incident,
    PendingImpactRefresh,
)


def evaluate_rules_after_commit(incident: Incident) -> None:
    """Queue the auto-declaration rules for an incident that was created or changed."""
    incident_id = incident.pk
    _after_commit("incidents.tasks.evaluate_incident", incident_id)


def evaluate_rules_of_incidents_after_commit(incident_ids: Iterable[int]) -> None:
    """Queue the auto-declaration rules for many incidents at once (a CMDB change): one task."""
    ids = sorted(set(incident_ids))
    if ids:
        _after_commit("incidents.tasks.evaluate_incidents", ids)


def refresh_affected_users(ci_ids: Iterable[int]) -> None:
    """Record that ``ci_ids`` changed and, after commit, recompute the affected users of the open
    incidents they reach.

    A CMDB edit may reach many incidents through a large graph, so the recomputation runs on a
    worker, not in the request that made the edit. The record is written in the caller's
    transaction: the edit and the work it owes commit together, and the reconcile applies the
    work if the message never reaches a worker.
    """
    ids = sorted(set(ci_ids))
    if ids:
        PendingImpactRefresh.objects.bulk_create([PendingImpactRefresh(ci_id=pk) for pk in ids])
        _after_commit("incidents.tasks.refresh_affected_users", ids)


def _after_commit(task_name: str, *args: Any) -> None:
    # robust: a broker that refuses this message is logged, and the other after-commit hooks of
    # the transaction (more messages, the domain signals) still run. The change itself is
    # committed either way; what it owes is recorded in the database or swept every minute.
    # (A function, not a functools.partial: Django logs a robust hook's failure by its
    # __qualname__, which a partial lacks.)
    def send_task() -> None:
        _send(task_name, args)

    send_task.__qualname__ = f"send_task[{task_name}]"
    transaction.on_commit(send_task, robust=True)


def _send(task_name: str, args: tuple[Any, ...]) -> None:
    # Looked up by name, so that services never import the tasks that call them. Every process
    # knows the names: each app's ``ready()`` imports its tasks module (incidents/apps.py).
    current_app.tasks[task_name].delay(*args)
