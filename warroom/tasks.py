"""The war room's Celery tasks (periodic ones are routed to the ``periodic`` queue in settings)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="warroom.tasks.check_checkpoints", acks_late=True)
def check_checkpoints() -> dict[str, int]:
    """Every minute: first-hour checkpoints (the initial assessment's among them) falling due or
    late, each event once however often the task runs (``services.check_checkpoints``)."""
    return services.check_checkpoints()
