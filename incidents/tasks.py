"""Celery tasks of the incidents app: thin wrappers that take ids and call a service.

Each is idempotent and works from database state, so a retried, duplicated or late run is
harmless (DESIGN, "Periodic tasks").
"""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="incidents.tasks.refresh_affected_users", acks_late=True)
def refresh_affected_users(ci_ids: list[int]) -> int:
    """Recompute affected users of open incidents reached by a CMDB change."""
    return services.refresh_affected_users_now(ci_ids)


@shared_task(name="incidents.tasks.evaluate_incident", acks_late=True)
def evaluate_incident(incident_id: int) -> str:
    """Run the auto-declaration rules over one incident that was just created or changed."""
    return services.evaluate_incident(incident_id).action


@shared_task(name="incidents.tasks.auto_declare", acks_late=True)
def auto_declare() -> int:
    """Every minute: the rules over all open incidents without an MI (the backstop)."""
    return len(services.auto_declare_sweep())


@shared_task(name="incidents.tasks.evaluate_escalations", acks_late=True)
def evaluate_escalations() -> int:
    """Every minute: fire the escalation steps that are due, each once."""
    return len(services.evaluate_escalations())
