"""The PIR app's Celery tasks: thin, by name, taking ids; both periodic, routed to `periodic`."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .services import actions, reports, scheduling


@shared_task(name="pir.tasks.schedule_due_reviews", acks_late=True)
def schedule_due_reviews() -> dict[str, int]:
    """Every 15 minutes: reviews missing for resolved MIs, meeting reminders 24 h and 1 h before,
    overdue flags and the publish deadline (``services.scheduling``); the Jira issues made for
    action items since, their keys kept on the items (``services.actions``); last month's KPI
    report if beat missed the 1st at 08:00 (``services.reports``)."""
    counts = dict(scheduling.schedule_due_reviews())
    counts["tracker_links_kept"] = actions.keep_tracker_links()
    counts["monthly_report_caught_up"] = int(reports.send_monthly_report_if_due() is not None)
    return counts


@shared_task(name="pir.tasks.send_monthly_report", acks_late=True)
def send_monthly_report() -> dict[str, Any]:
    """The 1st of the month, 08:00 UTC: last month's KPIs to the ITSM managers, once."""
    return reports.send_monthly_report()
