"""Celery tasks of the incidents app: thin wrappers that take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="incidents.tasks.refresh_affected_users", acks_late=True, max_retries=3)
def refresh_affected_users(ci_ids: list[int]) -> int:
    """Recompute affected users of open incidents reached by a CMDB change (idempotent)."""
    return services.refresh_affected_users_now(ci_ids)
