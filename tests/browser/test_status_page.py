"""The public status page in Chromium during an outage: no login, the banner, the services with
their status, the active incident with its updates, the resolved one; it fits a laptop and a
phone without scrolling sideways. Screenshots: /tmp/status_page.png and /tmp/status_page_375.png
(looked at while building it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time

from comms.models import UpdateType
from incidents import services
from incidents.models import MajorIncident, MIStatus
from tests.comms.test_status_fixtures import publish
from tests.incidents.mi_fixtures import declare, force_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = """() => ({
  fits: document.documentElement.scrollWidth <= window.innerWidth,
  wide: [...document.querySelectorAll('main *')]
    .filter(el => el.scrollWidth > el.clientWidth + 1
      && getComputedStyle(el).overflowX === 'visible')
    .map(el => `${el.tagName.toLowerCase()}.${el.className || '-'}`),
})"""


@pytest.fixture
def outage_now(make_ci: Any, make_incident: Any, alice: Any) -> MajorIncident:
    db = make_ci("payments-db", kind="database")
    gateway = make_ci("payment-gateway", depends_on=(db,))
    checkout = make_ci("Checkout", kind="business_service", depends_on=(gateway,), users=48_210)
    checkout.description = "Basket, payment and order confirmation"
    checkout.save()
    make_ci("Customer accounts", kind="business_service", depends_on=(db,))
    make_ci("Online store", kind="business_service", depends_on=(checkout,))
    make_ci("Payroll", kind="business_service")
    make_ci("Intranet", kind="business_service")
    search = make_ci("Product search", kind="business_service")

    two_days_ago = timezone.now() - timedelta(days=2)
    with freeze_time(two_days_ago):
        old = declare(make_incident(impact=1, urgency=1, affected_ci=search), alice)
    with freeze_time(two_days_ago + timedelta(minutes=50)):
        publish(
            old,
            alice,
            impact="Search results were slow.",
            action="The index was rebuilt.",
            user_action="No action needed.",
            update_type=UpdateType.RESOLUTION,
        )
    force_status(old, MIStatus.RESOLVED, resolved_at=two_days_ago + timedelta(minutes=45))

    mi = declare(
        make_incident(impact=1, urgency=1, affected_ci=checkout),
        alice,
        summary="Acquirer gateway 503s (internal)",
    )
    publish(
        mi,
        alice,
        impact="Customers cannot pay by card at checkout.",
        action="Engineers are investigating failures between our checkout and the card "
        "payment provider.",
        user_action="Please try again later, or pay by bank transfer.",
    )
    services.transition_major_incident(mi=mi, to=MIStatus.IDENTIFIED, actor=alice)
    publish(
        mi,
        alice,
        impact="Card payments fail for most customers; bank transfer works.",
        action="We found the cause in the payment gateway and are moving traffic to a "
        "second data centre.",
        user_action="Pay by bank transfer, or retry card payments after the next update.",
    )
    return mi


def test_status_page_during_an_outage(
    outage_now: MajorIncident, live_server: Any, page: Any
) -> None:
    page.goto(f"{live_server.url}/status/")
    assert page.url.endswith("/status/")  # no login
    banner = page.locator(".sp-banner")
    assert banner.inner_text().strip() == "Major System Outage"
    checkout = page.locator(".sp-component", has_text="Checkout")
    assert checkout.locator(".sp-pill").inner_text() == "Major outage"
    store = page.locator(".sp-component", has_text="Online store")  # it depends on Checkout
    assert store.locator(".sp-pill").inner_text() == "Partial outage"
    assert page.locator(".sp-component", has_text="Payroll").locator(".sp-pill").inner_text() == (
        "Operational"
    )
    active = page.locator(f"#{outage_now.number}")
    assert active.locator(".sp-pill").first.inner_text() == "Identified"
    # The two written above, and the plan's own: the initial notification at declaration and the
    # status-page update for "identified" (both public, from the pre-approved templates).
    assert active.locator(".sp-update").count() == 4
    assert "bank transfer works" in active.locator(".sp-update").first.inner_text()
    page.screenshot(path="/tmp/status_page.png", full_page=True)
    earlier = active.locator(".sp-earlier")
    assert not earlier.locator(".sp-update").first.is_visible()  # older updates folded away
    earlier.locator("summary").click()
    assert "cannot pay by card" in " ".join(earlier.locator(".sp-update").all_inner_texts())
    assert "internal" not in page.content()
    assert page.locator(".sp-incident[data-status='resolved']").count() == 1
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}

    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    page.screenshot(path="/tmp/status_page_375.png", full_page=True)
