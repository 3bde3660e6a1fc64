"""The comms changelists fit a 1366 px screen in Chromium, with rows at their longest, and the
outbox's header says which channels are off (screenshots in var/screenshots/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from comms.models import (
    CommsState,
    DeliveryAttempt,
    ExternalRecord,
    IncidentChannel,
    OutboxMessage,
    StakeholderGroup,
    StakeholderUpdate,
)
from incidents.models import Incident, MajorIncident
from tests.browser.conftest import page, screenshots  # noqa: F401  (the fixtures)
from tests.browser.test_admin_layout import MEASURE
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

COMMS_CHANGELISTS = [
    "stakeholdergroup",
    "communicationplanentry",
    "messagetemplate",
    "stakeholderupdate",
    "outboxmessage",
    "incidentchannel",
    "commsstate",
    "externalrecord",
]
LONG = "Customer identity and access management platform (EU-West-1 primary) " * 4


def _long_rows(author: Any) -> None:
    incident = Incident.objects.create(short_description=LONG[:200], impact=1, urgency=1)
    mi = MajorIncident.objects.create(incident=incident, impact_statement=LONG)
    group = StakeholderGroup.objects.create(
        name=LONG[:200], slug="long", slack_channel="#" + "x" * 79,
        teams_webhook_url="https://example.webhook.office.com/" + "a" * 900,
    )  # fmt: skip
    group.users.add(author)
    update = StakeholderUpdate.objects.create(
        major_incident=mi, update_type="cadence", subject=LONG[:300], current_impact=LONG,
        current_action=LONG, user_action=LONG, status="sent", author=author, approver=author,
    )  # fmt: skip
    for channel, recipient in (
        ("teams", group.teams_webhook_url),
        ("email", "alexandra.konstantinopoulou-ops@very-long-subsidiary-name.example.com"),
    ):
        message = OutboxMessage.objects.create(
            idempotency_key=f"{channel}:{'k' * 200}", channel=channel, recipient=recipient,
            major_incident=mi, update=update, purpose="executive_cadence_reminder_x",
            subject=LONG[:300], status="dead", attempts=10, last_error="HTTP 404 " + LONG,
        )  # fmt: skip
        DeliveryAttempt.objects.create(message=message, number=1, outcome="permanent")
    IncidentChannel.objects.create(major_incident=mi, name="incident-20250303-" + "y" * 62)
    CommsState.objects.create(major_incident=mi)
    ExternalRecord.objects.create(major_incident=mi, channel="statuspage", external_id="z" * 255)


def test_the_comms_changelists_fit_1366_px(
    alice: Any,
    live_server: Any,
    page: Any,  # noqa: F811
    screenshots: Path,  # noqa: F811
) -> None:
    _long_rows(alice)
    base = live_server.url
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{base}/admin/login/")
    page.fill("input[name=username]", alice.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    overflowing = {}
    for model in COMMS_CHANGELISTS:
        page.goto(f"{base}/admin/comms/{model}/")
        assert page.locator("#changelist").count() == 1, model
        size = page.evaluate(MEASURE)
        page.screenshot(path=str(screenshots / f"admin_comms_{model}.png"), full_page=True)
        if size["table"] > 0 or size["page"] > 0:
            overflowing[model] = size
    assert overflowing == {}

    page.goto(f"{base}/admin/comms/outboxmessage/")
    header = page.locator("#channel-states").inner_text()
    assert "email: on" in header
    assert "slack: off (SLACK_BOT_TOKEN is unset)" in header

    dead = OutboxMessage.objects.filter(channel="teams").get()
    page.goto(f"{base}/admin/comms/outboxmessage/{dead.pk}/change/")
    page.screenshot(path=str(screenshots / "admin_comms_outbox_row.png"), full_page=True)
    assert page.evaluate(MEASURE)["page"] <= 0
    page.click("text=Retry now")
    page.wait_for_url(f"{base}/admin/comms/outboxmessage/")
    assert "1 message queued to be sent again now." in page.locator(".messagelist").inner_text()
