"""Celery tasks of the incidents app: thin wrappers that take ids and call a service.

Each is idempotent and works from database state, so a retried, duplicated or late run is
harmless (DESIGN, "Periodic tasks"). Per-event tasks go to the ``events`` queue (the default),
the tasks beat runs to ``periodic`` (``CELERY_TASK_ROUTES`` in the settings), so a backlog of
per-event messages never delays a sweep. Time limits and acks-late come from the settings.
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


@shared_task(name="incidents.tasks.evaluate_incidents", acks_late=True)
def evaluate_incidents(incident_ids: list[int]) -> int:
    """Run the auto-declaration rules over the incidents one CMDB change reached."""
    return len(services.evaluate_incidents(incident_ids))


@shared_task(name="incidents.tasks.auto_declare", acks_late=True)
def auto_declare() -> int:
    """Every minute: the rules over all open incidents without an MI (the backstop)."""
    return len(services.auto_declare_sweep())


@shared_task(name="incidents.tasks.evaluate_escalations", acks_late=True)
def evaluate_escalations() -> int:
    """Every minute: fire the escalation steps that are due, each once."""
    return len(services.evaluate_escalations())


@shared_task(name="incidents.tasks.reconcile", acks_late=True)
def reconcile() -> int:
    """Every minute: apply the CMDB changes whose refresh never ran (a lost message, a killed
    worker), so a lost message is caught within a minute. The rules' backstop is auto_declare."""
    return services.reconcile_affected_users()
