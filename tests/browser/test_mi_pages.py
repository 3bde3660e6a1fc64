"""An ITSM manager declares a major incident from the incident page and runs it, in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from incidents import selectors
from incidents.models import AutoDeclarationRule, MajorIncident, MajorIncidentCandidate, MIStatus
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def scene(make_ci: Any, make_incident: Any, tina: Any) -> dict[str, Any]:
    """A P2 on the checkout service (few users: no rule declares it) and a proposed P1."""
    checkout = make_ci("Checkout Service", users=40)
    incident = make_incident(
        actor=tina,
        short_description="Checkout returns 503 for EU customers",
        affected_ci=checkout,
        impact=1,
        urgency=2,
        assignment_group="Payments",
    )
    search = make_ci("Search Service", users=30)
    other = make_incident(
        actor=tina,
        short_description="Search results empty for all users",
        affected_ci=search,
        impact=1,
        urgency=1,
    )
    rule = AutoDeclarationRule.objects.order_by("order").first()
    MajorIncidentCandidate.objects.create(
        incident=other, rule=rule, reason="P1, unacknowledged for 22 min (limit 15)"
    )
    return {"incident": incident, "other": other}


def test_manager_declares_and_moves_an_mi(
    alice: Any, sam: Any, scene: dict[str, Any], live_server: Any, page: Any, screenshots: Path
) -> None:
    base = live_server.url
    incident = scene["incident"]

    page.goto(f"{base}/incidents/{incident.number}/")
    page.fill("input[name=username]", alice.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/incidents/{incident.number}/")

    form = page.locator("[data-testid=declare-form]")
    assert form.locator("input[name=major_incident_manager]").input_value() == alice.username
    form.locator("input[name=bridge_link]").fill("https://meet.example.com/abc-defg-hij")
    form.locator("textarea[name=initial_impact_statement]").fill(
        "EU customers cannot complete checkout; card payments fail with 503."
    )
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/war-rooms/MI\d{7}/$"))  # the MI page leads there

    mi = MajorIncident.objects.get(incident=incident)
    assert page.locator("[data-testid=mi-number]").inner_text() == mi.number
    assert page.locator("[data-testid=mi-status]").inner_text().lower() == "declared"

    # A team to show: sam as communications lead through the role form.
    roles = page.locator("[data-testid=role-form]")
    roles.locator("select[name=role]").select_option("communications_lead")
    roles.locator("input[name=user]").fill(sam.username)
    roles.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/war-rooms/{mi.number}/")
    assert "Communications lead" in page.locator("[data-testid=roles]").inner_text()

    page.fill("textarea[name=reason]", "Payments team engaged on the bridge")
    page.click("button[data-move=investigating]")
    page.wait_for_url(f"{base}/war-rooms/{mi.number}/")
    assert page.locator("[data-testid=mi-status]").inner_text().lower() == "investigating"
    mi.refresh_from_db()
    assert mi.status == MIStatus.INVESTIGATING
    page.screenshot(path=str(screenshots / "mi_page.png"), full_page=True)

    page.goto(f"{base}/major-incidents/")
    assert mi.number in page.locator("[data-testid=mi-list]").inner_text()
    page.screenshot(path=str(screenshots / "mi_list.png"), full_page=True)

    page.goto(f"{base}/major-incidents/candidates/")
    assert scene["other"].number in page.locator("[data-testid=candidates]").inner_text()
    page.screenshot(path=str(screenshots / "mi_candidates.png"), full_page=True)
    assert selectors.current_commander(mi) == alice
