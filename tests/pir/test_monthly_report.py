"""The monthly KPI report: on the 1st at 08:00 UTC last month's KPIs go to every active ITSM
manager with an email address, once (a second run sends nothing), with the figures stored on
the month's KpiReport; when beat missed that time, the next 15-minute tick sends it, once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.core import mail
from freezegun import freeze_time

from comms.channels.email import html_of
from comms.models import OutboxMessage
from pir import tasks
from pir.models import KpiReport
from pir.services import reports
from tests.conftest import make_user

from .metrics_data import build

pytestmark = pytest.mark.django_db
FIRST_8AM = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)  # the report of March 2026


def manager(username: str, email: str, *, active: bool = True, role: str = "itsm_manager") -> Any:
    user = make_user(username, role)
    user.email, user.is_active = email, active
    user.save(update_fields=["email", "is_active"])
    return user


@pytest.fixture
def managers(db: None) -> list[Any]:
    return [
        manager("usr_mona_manager", "mona@example.test"),
        manager("usr_mark_manager", "mark@example.test"),
        manager("usr_nomail_manager", ""),
        manager("usr_gone_manager", "gone@example.test", active=False),
        manager("usr_tom_tech", "tom@example.test", role="technician"),
        manager("usr_sue_admin", "sue@example.test", role="super_admin"),
    ]


def _report_mail() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(purpose="kpi_report").order_by("recipient"))


def test_the_report_goes_to_each_active_manager_with_an_email_once(
    managers: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    build()
    with freeze_time(FIRST_8AM), django_capture_on_commit_callbacks(execute=True):
        first = reports.send_monthly_report()
    assert first == {"month": "2026-03-01", "sent": 2, "already_sent": False}
    rows = _report_mail()
    assert [r.recipient for r in rows] == ["mark@example.test", "mona@example.test"]
    assert {r.status for r in rows} == {"sent"}
    report = KpiReport.objects.get(month=date(2026, 3, 1))
    assert report.sent_at == FIRST_8AM and report.recipients == 2
    figures = {k["key"]: k["value"] for k in report.data["kpis"]}
    assert figures["mi_count"] == 2 and figures["mtbf"] == 781800.0
    assert report.data["from"] == "2026-03-01T00:00:00+00:00"
    assert report.data["to"] == "2026-04-01T00:00:00+00:00"

    sent = sorted(mail.outbox, key=lambda m: m.to[0])
    assert [m.to for m in sent] == [["mark@example.test"], ["mona@example.test"]]
    assert sent[0].subject == "MIM Desk KPIs for March 2026"
    assert "- Major incidents: 2 (sample 2)" in sent[0].body
    assert "- Mean time between failures (MTBF): 9 d 1 h (sample 1)" in sent[0].body
    assert "/kpis/?from=2026-03-01&to=2026-04-01T00:00:00+00:00" in sent[0].body
    html = sent[0].alternatives[0][0]  # type: ignore[attr-defined]
    assert "<table" in html and '<th align="left">Major incidents</th><td>2 (sample 2)</td>' in html

    with freeze_time(FIRST_8AM), django_capture_on_commit_callbacks(execute=True):
        second = reports.send_monthly_report()
    assert second == {"month": "2026-03-01", "sent": 0, "already_sent": True}
    assert len(_report_mail()) == 2 and len(mail.outbox) == 2
    assert KpiReport.objects.count() == 1


def test_the_beat_task_sends_last_months_report(managers: list[Any]) -> None:
    with freeze_time(FIRST_8AM):
        result = tasks.send_monthly_report()
    assert result["month"] == "2026-03-01" and result["sent"] == 2


def test_before_the_1st_8am_the_tick_sends_nothing_and_after_it_catches_up_once(
    managers: list[Any],
) -> None:
    # 07:59 on the 1st: March is not due yet, and February went out.
    KpiReport.objects.create(month=date(2026, 2, 1), sent_at=datetime(2026, 3, 1, 8, tzinfo=UTC))
    with freeze_time(datetime(2026, 4, 1, 7, 59, tzinfo=UTC)):
        assert reports.send_monthly_report_if_due() is None
    assert not _report_mail()
    # Beat was down at 08:00; the machine is back on the 3rd and the 15-minute tick runs.
    with freeze_time(datetime(2026, 4, 3, 10, 15, tzinfo=UTC)):
        tasks.schedule_due_reviews()
    assert len(_report_mail()) == 2
    report = KpiReport.objects.get(month=date(2026, 3, 1))
    assert report.sent_at == datetime(2026, 4, 3, 10, 15, tzinfo=UTC)
    with freeze_time(datetime(2026, 4, 3, 10, 30, tzinfo=UTC)):
        assert reports.send_monthly_report_if_due() is None
        tasks.schedule_due_reviews()
    with freeze_time(datetime(2026, 4, 1, 8, 0, tzinfo=UTC)):
        tasks.send_monthly_report()  # beat's own run, late: nothing more
    assert len(_report_mail()) == 2


def test_a_month_with_no_managers_is_still_claimed_once(db: None) -> None:
    with freeze_time(FIRST_8AM):
        assert reports.send_monthly_report()["sent"] == 0
        assert reports.send_monthly_report()["already_sent"] is True
    assert KpiReport.objects.get().recipients == 0


def test_the_report_of_january_is_decembers(managers: list[Any]) -> None:
    with freeze_time(datetime(2027, 1, 1, 8, tzinfo=UTC)):
        assert reports.send_monthly_report()["month"] == "2026-12-01"


def test_the_reports_html_table_escapes_what_it_shows() -> None:
    html = html_of({"intro": "<b>KPIs</b>", "rows": [["<script>", "1 & 2"]]}, "Subject")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;KPIs&lt;/b&gt;" in html and "1 &amp; 2" in html
