"""A technician flags a potential major incident from the incident page in headless Chromium;
the war room shows its upstream provider's status."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from comms.models import UpstreamStatus
from incidents.models import CIKind, ConfigurationItem, MajorIncidentCandidate
from tests.conftest import PASSWORD
from tests.incidents.mi_fixtures import declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page: Any, base: str, user: Any) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_technician_flags_and_war_room_shows_upstream(
    tina: Any, alice: Any, make_incident: Any, live_server: Any, page: Any
) -> None:
    provider = ConfigurationItem.objects.create(
        name="Stripe",
        kind=CIKind.SAAS_DEPENDENCY,
        upstream_status_url="https://status.stripe.example/",
        provider_role="payment processing partner",
    )
    UpstreamStatus.objects.create(
        ci=provider,
        indicator="major",
        description="Partial System Outage <b>x</b>",
        incidents=[
            {
                "name": "Elevated card declines",
                "status": "investigating",
                "url": "https://stspg.io/a",
            }
        ],
        fetched_at=timezone.now(),
        changed_at=timezone.now(),
    )
    incident = make_incident(
        short_description="Payroll exports fail", impact=2, affected_ci=provider
    )
    base = live_server.url
    login(page, base, tina)
    page.goto(f"{base}/incidents/{incident.number}/")
    page.fill("#flag textarea[name=reason]", "Six calls in ten minutes from three regions")
    page.click("button:has-text('Flag as potential major incident')")
    page.locator("[data-testid=mi-candidate]").wait_for()
    assert "flagged by usr_tina_tech" in page.locator("[data-testid=mi-candidate]").inner_text()
    page.screenshot(path="/tmp/upstream-flag.png", full_page=True)
    assert MajorIncidentCandidate.objects.get().flagged_by == tina

    mi = declare(make_incident(impact=1, urgency=1, affected_ci=provider), alice)
    page.context.clear_cookies()
    login(page, base, alice)
    page.goto(f"{base}/war-rooms/{mi.number}/")
    panel = page.locator("[data-testid=upstream]")
    panel.wait_for()
    assert "Partial System Outage <b>x</b>" in panel.inner_text()
    panel.screenshot(path="/tmp/upstream-panel.png")
    page.screenshot(path="/tmp/upstream-warroom.png", full_page=True)
