"""The MI page (its war room) at 1366 px, in Chromium (issue 6, item 12): in monitoring, the moves
panel fits its column (no horizontal overflow), the Resolve button waits and says until when,
and a refused form can be reloaded."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import MajorIncident, MIStatus
from tests.conftest import PASSWORD, make_user
from tests.incidents.mi_fixtures import declare

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# Every element of the page wider than its box, and whether the document scrolls sideways.
OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [];
  for (const el of document.querySelectorAll('main *')) {
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible') {
      wide.push(`${el.tagName.toLowerCase()}.${el.className || '-'}#${el.id || '-'}`);
    }
  }
  return {page: doc.scrollWidth - doc.clientWidth, wide: wide};
}"""


@pytest.fixture
def monitoring(make_ci: Any, make_incident: Any, alice: Any) -> MajorIncident:
    """alice's MI, in monitoring for 8 minutes (15 are needed before resolving)."""
    checkout = make_ci("Checkout Service", users=40)
    incident = make_incident(
        short_description="Checkout returns 503 for EU customers",
        affected_ci=checkout,
        impact=1,
        urgency=2,
    )
    mi = declare(
        incident,
        alice,
        bridge_link="https://meet.example.com/abc-defg-hij",
        initial_impact_statement="EU customers cannot complete checkout; card payments fail.",
    )
    mi = services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
    MajorIncident.objects.filter(pk=mi.pk).update(
        monitoring_started_at=timezone.now() - timedelta(minutes=8)
    )
    return mi


def _login(page: Any, base: str, username: str, then: str) -> None:
    page.goto(f"{base}{then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{then}")


def test_monitoring_panel_fits_at_1366_and_shows_the_countdown(
    alice: Any, monitoring: MajorIncident, live_server: Any, page: Any, screenshots: Path
) -> None:
    base = live_server.url
    mi_page = f"/war-rooms/{monitoring.number}/"  # the MI page is its war room
    assert page.viewport_size["width"] == 1366
    _login(page, base, alice.username, mi_page)

    page.screenshot(path=str(screenshots / "mi_monitoring_1366.png"), full_page=True)
    panel = page.locator("#lifecycle")
    measured = page.evaluate(OVERFLOW)
    assert measured == {"page": 0, "wide": []}
    box, side = panel.bounding_box(), page.locator(".wr-head__moves").bounding_box()
    assert box["x"] + box["width"] <= side["x"] + side["width"] + 0.5

    wait = panel.locator("[data-testid=move-wait-resolved]")
    assert wait.locator("button").is_disabled()
    text = wait.inner_text()
    # The time carries its date when it falls on another day than now (near midnight UTC).
    assert re.search(r"may be resolved at (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC, in 7 min", text), text
    assert panel.locator("[data-testid=override]").is_visible()  # alice is the IC

    # The IC opens the override: it still fits.
    panel.locator("[data-testid=override] summary").click()
    assert page.evaluate(OVERFLOW) == {"page": 0, "wide": []}
    panel.screenshot(path=str(screenshots / "mi_monitoring_panel_override.png"))


def test_a_refused_form_survives_a_reload(
    alice: Any, monitoring: MajorIncident, live_server: Any, page: Any, screenshots: Path
) -> None:
    base = live_server.url
    mi_page = f"/war-rooms/{monitoring.number}/"  # the MI page is its war room
    _login(page, base, alice.username, mi_page)
    page.locator("[data-testid=edit-form]").evaluate("f => f.closest('details').open = true")
    page.fill("textarea[name=edit-impact_statement]", "   ")
    page.fill("textarea[name=edit-summary]", "Acquirer outage in Frankfurt")
    page.locator("[data-testid=edit-form] button[type=submit]").click()
    page.wait_for_url(f"{base}{mi_page}#declared")
    assert "The impact statement cannot be empty." in page.content()
    assert page.input_value("textarea[name=edit-summary]") == "Acquirer outage in Frankfurt"
    page.screenshot(path=str(screenshots / "mi_edit_refused.png"), full_page=True)

    response = page.reload()
    assert response is not None and response.status == 200  # not a 405, nor a re-post
    assert "The impact statement cannot be empty." not in page.content()


def test_a_commander_without_the_override_sees_why_at_1366(
    alice: Any, monitoring: MajorIncident, live_server: Any, page: Any, screenshots: Path
) -> None:
    sam = make_user("usr_sam_admin", "super_admin", staff=True)
    base = live_server.url
    mi_page = f"/war-rooms/{monitoring.number}/"  # the MI page is its war room
    _login(page, base, sam.username, mi_page)
    panel = page.locator("#lifecycle")
    assert panel.locator("[data-testid=override]").count() == 0
    assert "unless the incident commander overrides" in panel.inner_text()
    assert page.evaluate(OVERFLOW) == {"page": 0, "wide": []}
    panel.screenshot(path=str(screenshots / "mi_monitoring_panel_manager.png"))
