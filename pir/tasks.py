"""The PIR app's Celery tasks: thin, by name, taking ids; both periodic, routed to `periodic`."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .services import reports, scheduling


@shared_task(name="pir.tasks.schedule_due_reviews", acks_late=True)
def schedule_due_reviews() -> dict[str, int]:
    """Every 15 minutes: reviews missing for resolved MIs, meeting reminders 24 h and 1 h before,
    overdue flags and the publish deadline (``services.scheduling``)."""
    reports.send_monthly_report_if_due()  # the monthly report, if beat missed the 1st 08:00
    return scheduling.schedule_due_reviews()


@shared_task(name="pir.tasks.send_monthly_report", acks_late=True)
def send_monthly_report() -> dict[str, Any]:
    """The 1st of the month, 08:00 UTC: last month's KPIs to the ITSM managers, once."""
    return reports.send_monthly_report()
