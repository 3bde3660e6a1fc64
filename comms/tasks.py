"""The comms app's Celery tasks: thin, by name, taking ids; periodic ones routed to `periodic`."""

from __future__ import annotations

from celery import shared_task

from . import services
from .services import mailbox, upstream


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


@shared_task(name="comms.tasks.poll_mailbox", acks_late=True)
def poll_mailbox() -> dict[str, int]:
    """Every minute: new mail from the IMAP mailbox into incidents and timelines."""
    return mailbox.poll_mailbox()


@shared_task(name="comms.tasks.watch_upstream_status", acks_late=True)
def watch_upstream_status() -> dict[str, int]:
    """Every 2 minutes: the provider status of SaaS-dependency CIs under an open MI."""
    return upstream.watch_upstream_status()
