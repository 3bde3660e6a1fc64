"""The monthly KPI report to the ITSM managers: the previous calendar month's KPIs, once.

The month's ``KpiReport`` row is the claim (its month is unique): the first run creates it and,
holding it (``select_for_update``; SQLite has one writer at a time anyway), stores the figures,
queues one email per manager and sets ``sent_at`` in the same transaction. A second run, or a
second beat process, finds ``sent_at`` set and sends nothing; the outbox's idempotency keys
(month + address) would refuse a second copy regardless. The mail goes out after commit, from
the outbox's delivery task, never inside this transaction.

Catch-up: beat sends it on the 1st at 08:00 UTC (``pir.tasks.send_monthly_report``); if beat
was down then, ``send_monthly_report_if_due`` (called by the 15-minute
``schedule_due_reviews``) sends it on its first tick after that time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from comms.services import NewMessage, enqueue, idempotency_key

from ..models import KpiReport
from ..selectors import metrics as metric_selectors

MANAGERS_GROUP = "itsm_manager"
SEND_DAY_HOUR = 8  # the 1st of the month, 08:00 UTC (beat's schedule)


def report_month(now: datetime) -> datetime:
    """The first instant of the calendar month before ``now``'s (UTC)."""
    return metric_selectors.add_months(metric_selectors.month_start(now), -1)


def _recipients() -> list[tuple[str, str]]:
    rows = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=MANAGERS_GROUP)
        .exclude(email="")
        .order_by("email")
        .values_list("username", "email")
        .distinct()
    )
    seen: dict[str, str] = {}
    for username, email in rows:
        seen.setdefault(email.strip().lower(), username)
    return [(username, email) for email, username in seen.items()]


def _content(result: metric_selectors.Metrics, start: datetime) -> dict[str, Any]:
    query = f"?from={start.date().isoformat()}&to={result.period.end.isoformat()}"
    dashboard = settings.MIM_BASE_URL.rstrip("/") + reverse("kpis:dashboard") + query
    rows = [
        [kpi.name, f"{metric_selectors.shown(kpi)} (sample {kpi.sample})"] for kpi in result.kpis
    ]
    subject = f"MIM Desk KPIs for {start:%B %Y}"
    text = render_to_string(
        "pir/email/monthly_report.txt",
        {"month": start, "result": result, "rows": rows, "dashboard": dashboard},
    )
    intro = f"The major incident KPIs for {start:%B %Y} (UTC). The dashboard: {dashboard}"
    return {"subject": subject, "text": text, "intro": intro, "rows": rows}


def send_monthly_report(now: datetime | None = None) -> dict[str, Any]:
    """Last month's KPIs to every active ITSM manager with an email address, once per month."""
    now = now or timezone.now()
    start = report_month(now)
    end = metric_selectors.add_months(start, 1)
    with transaction.atomic():
        report, _ = KpiReport.objects.get_or_create(month=start.date())
        # Held until commit: a second process waits here, then finds sent_at set.
        report = KpiReport.objects.select_for_update().get(pk=report.pk)
        if report.sent_at is not None:
            return {"month": start.date().isoformat(), "sent": 0, "already_sent": True}
        result = metric_selectors.metrics(metric_selectors.Period(start=start, end=end), now=now)
        content = _content(result, start)
        recipients = _recipients()
        enqueue(
            [
                NewMessage(
                    channel="email",
                    recipient=email,
                    key=idempotency_key("kpi-report", start.date().isoformat(), email.lower()),
                    purpose="kpi_report",
                    subject=content["subject"],
                    payload={
                        "subject": content["subject"],
                        "text": content["text"],
                        "intro": content["intro"],
                        "rows": content["rows"],
                    },
                )
                for _, email in recipients
            ]
        )
        report.data = result.as_dict()
        report.recipients = len(recipients)
        report.sent_at = now
        report.save(update_fields=["data", "recipients", "sent_at"])
    return {"month": start.date().isoformat(), "sent": len(recipients), "already_sent": False}


def send_monthly_report_if_due(now: datetime | None = None) -> dict[str, Any] | None:
    """The catch-up: last month's report when this month's send time has passed and it has not
    gone out (beat was down on the 1st at 08:00). One indexed look-up when there is nothing
    to do."""
    now = now or timezone.now()
    this_month = metric_selectors.month_start(now)
    due = this_month.replace(hour=SEND_DAY_HOUR)
    if now.astimezone(UTC) < due:
        return None
    sent = KpiReport.objects.filter(month=report_month(now).date(), sent_at__isnull=False).exists()
    return None if sent else send_monthly_report(now)
