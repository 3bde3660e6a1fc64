"""The comms app's Celery tasks: thin, by name, taking ids; periodic ones routed to `periodic`."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="comms.tasks.deliver", acks_late=True)
def deliver(message_ids: list[int]) -> dict[str, int]:
    """Deliver outbox messages (each claimed first, so a redelivered task sends nothing twice)."""
    return services.deliver(message_ids)


@shared_task(name="comms.tasks.deliver_pending", acks_late=True)
def deliver_pending() -> dict[str, int]:
    """Every minute: re-drive messages left pending or failed, and those a lost worker held."""
    return services.redrive()


@shared_task(name="comms.tasks.send_due_updates", acks_late=True)
def send_due_updates() -> dict[str, int]:
    """Every minute: the cadence (reminders, automatic updates, executive updates, all-clear),
    from the due times in the database (``services.cadence``)."""
    return services.send_due_updates()
