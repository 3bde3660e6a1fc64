"""The status page in Chromium with maintenance: a window in progress (its component under
maintenance), an upcoming one, and the subscribe form htmx loads into the page; subscribing
answers "check your inbox" and mails one confirmation. Screenshots: /tmp/status-maintenance.png,
/tmp/status-subscribed.png and /tmp/status-maintenance-375.png (looked at while building it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from comms.models import StatusSubscriber
from comms.services import maintenance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def windows(make_ci: Any, alice: Any) -> dict[str, Any]:
    checkout = make_ci("Checkout", kind="business_service")
    checkout.description = "Basket, payment and order confirmation"
    checkout.save()
    payroll = make_ci("Payroll", kind="business_service")
    make_ci("Intranet", kind="business_service")
    now = timezone.now()
    running = maintenance.create_maintenance(
        actor=alice,
        name="Payment database upgrade",
        components=[checkout.pk],
        scheduled_for=now - timedelta(minutes=30),
        scheduled_until=now + timedelta(hours=1),
        notes="Checkout may be slow or briefly unavailable while the database fails over.",
    )
    maintenance.change_maintenance(
        maintenance=running,
        actor=alice,
        status="in_progress",
        message="The upgrade has started; the first node is done.",
    )
    maintenance.create_maintenance(
        actor=alice,
        name="Payroll <b>year-end</b> run",
        components=[payroll.pk],
        scheduled_for=now + timedelta(days=3),
        scheduled_until=now + timedelta(days=3, hours=4),
        notes="Payslips are not available during the run.",
    )
    return {"checkout": checkout, "payroll": payroll}


def test_maintenance_is_shown_and_the_form_subscribes(
    windows: dict[str, Any], live_server: Any, page: Any
) -> None:
    page.goto(f"{live_server.url}/status/")
    checkout = page.locator(".sp-component", has_text="Checkout")
    assert checkout.get_attribute("data-status") == "under_maintenance"
    assert "Under maintenance" in checkout.inner_text()
    assert page.locator("h2", has_text="Maintenance in progress").is_visible()
    assert page.locator("h2", has_text="Scheduled maintenance").is_visible()
    # Escaped: the name's markup is text.
    assert page.get_by_text("Payroll <b>year-end</b> run").is_visible()
    form = page.locator("#subscribe-form")
    form.wait_for()  # loaded by htmx with this reader's CSRF token
    page.screenshot(path="/tmp/status-maintenance.png", full_page=True)
    page.fill("#subscribe-email", "pat@example.test")
    page.get_by_label("Checkout").check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_text("Check your inbox").wait_for()
    page.screenshot(path="/tmp/status-subscribed.png", full_page=True)
    subscriber = StatusSubscriber.objects.get()
    assert subscriber.email == "pat@example.test" and not subscriber.is_active
    assert [m.to for m in mail.outbox] == [["pat@example.test"]]


def test_the_page_fits_a_phone(windows: dict[str, Any], live_server: Any, page: Any) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server.url}/status/")
    page.locator("#subscribe-form").wait_for()
    fits = page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path="/tmp/status-maintenance-375.png", full_page=True)
    assert fits
