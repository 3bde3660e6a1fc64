"""A technician logs in and logs an incident through the real form in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from incidents.models import Incident
from tests.conftest import PASSWORD

# live_server needs a transactional database; tests/conftest.py reseeds what its flush removes.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def cmdb(make_ci: Any) -> dict[str, Any]:
    """A small SaaS: the orders database under checkout and payments, both under the storefront."""
    db = make_ci("Orders DB", users=0, kind="database")
    checkout = make_ci("Checkout Service", users=4000, depends_on=(db,))
    payments = make_ci("Payments Service", users=1500, depends_on=(db,))
    store = make_ci(
        "Storefront", users=12000, kind="business_service", depends_on=(checkout, payments)
    )
    make_ci("Search Service", users=300)
    return {"db": db, "checkout": checkout, "payments": payments, "store": store}


def test_technician_logs_an_incident(
    tina: Any, cmdb: dict[str, Any], live_server: Any, page: Any, screenshots: Path
) -> None:
    base = live_server.url

    # Opening the form while logged out leads through the login page and back.
    page.goto(f"{base}/incidents/new/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", tina.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/incidents/new/")
    assert page.locator("h1").inner_text() == "Log a new incident"

    page.fill("input[name=short_description]", "Orders DB unreachable: checkout failing")
    page.fill("textarea[name=description]", "Connection pool exhausted since 09:40 UTC.")

    # The priority follows impact and urgency as they are picked, before anything is sent.
    badge = page.locator("[data-priority-badge]")
    assert badge.inner_text() == "P5"
    page.select_option("select[name=impact]", "1")
    assert badge.inner_text() == "P3"  # impact 1, urgency still 3
    page.select_option("select[name=urgency]", "1")
    assert badge.inner_text() == "P1"
    assert page.locator("[data-priority-label]").inner_text() == "Critical"

    # The CI picker searches the CMDB and shows what the outage reaches.
    page.fill("input[name=ci_q]", "orders")
    page.locator("[data-ci-option]", has_text="Orders DB").click()
    assert page.locator("[data-ci-chosen-name]").inner_text() == "Orders DB"
    page.locator("#ci-impact").get_by_text("17,500").wait_for()

    page.select_option("select[name=channel]", "monitoring")
    page.fill("input[name=assignment_group]", "DBA")
    page.screenshot(path=str(screenshots / "incident_create.png"), full_page=True)

    page.click("button[type=submit]:has-text('Log incident')")
    page.wait_for_url(re.compile(r".*/incidents/INC\d{7}/$"))

    incident = Incident.objects.get()
    assert incident.priority == 1
    assert incident.affected_ci_id == cmdb["db"].pk
    assert incident.affected_users == 17_500
    assert page.locator("[data-testid=incident-number]").inner_text() == incident.number
    assert re.fullmatch(r"INC\d{7}", incident.number)
    assert page.locator("[data-testid=affected-users]").inner_text() == "17,500"
    affected = page.locator("[data-testid=affected-cis]").inner_text()
    for name in ("Orders DB", "Checkout Service", "Payments Service", "Storefront"):
        assert name in affected
    assert "Search Service" not in affected
    page.screenshot(path=str(screenshots / "incident_detail.png"), full_page=True)

    # And the list shows it, for a look at the table as well.
    page.goto(f"{base}/incidents/")
    assert incident.number in page.locator("table").inner_text()
    page.screenshot(path=str(screenshots / "incident_list.png"), full_page=True)
