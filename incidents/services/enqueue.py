"""Every task the services queue, in one place: after commit, by name, with ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import current_app
from django.db import transaction

from ..models import (
    Incident,
)


def evaluate_rules_after_commit(incident: Incident) -> None:
    """Queue the auto-declaration rules for an incident that was created or changed."""
    incident_id = incident.pk
    _after_commit("incidents.tasks.evaluate_incident", incident_id)


def refresh_affected_users(ci_ids: Iterable[int]) -> None:
    """After commit, recompute the affected users of open incidents reached by ``ci_ids``.

    A CMDB edit may reach many incidents through a large graph, so the recomputation runs on a
    worker, not in the request that made the edit.
    """
    ids = sorted(set(ci_ids))
    if ids:
        _after_commit("incidents.tasks.refresh_affected_users", ids)


def _after_commit(task_name: str, *args: Any) -> None:
    # Looked up by name, so that services never import the tasks that call them.
    transaction.on_commit(lambda: current_app.tasks[task_name].delay(*args))
