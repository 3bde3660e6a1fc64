"""The war room's stakeholder-updates panel in Chromium: draft from the template, edit, send,
see it listed with its delivery; copy the canned response; it fits a laptop and a phone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from comms.models import StakeholderGroup, StakeholderUpdate
from incidents import services
from incidents.models import Incident, MajorIncident, RaciRole
from tests.browser.test_war_room import LAPTOP, OVERFLOW, PHONE, _open, _url, chromium  # noqa: F401
from tests.conftest import make_user
from tests.incidents.mi_fixtures import declare

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

User = get_user_model()
SHOT = Path("/tmp/updates_panel.png")
FORM_SHOT = Path("/tmp/updates_panel_form.png")
PHONE_SHOT = Path("/tmp/updates_panel_phone.png")


@pytest.fixture
def room(make_ci: Any, make_incident: Any, alice: Any) -> MajorIncident:
    checkout = make_ci("Checkout Service", users=48_210)
    incident = make_incident(
        short_description="Checkout returns 503 for EU customers",
        affected_ci=checkout,
        impact=1,
        urgency=1,
    )
    mi = declare(incident, alice, initial_impact_statement="EU customers cannot complete checkout.")
    Incident.objects.filter(pk=incident.pk).update(affected_users=48_210)
    MajorIncident.objects.filter(pk=mi.pk).update(
        next_update_due_at=timezone.now() + timedelta(minutes=13)
    )
    carol = make_user("usr_carol_comms", "technician")
    services.assign_role(mi=mi, role=RaciRole.COMMUNICATIONS_LEAD, user=carol, actor=alice)
    group = StakeholderGroup.objects.get(slug="it-leadership")
    for name in ("cio", "cto"):
        user = make_user(f"usr_{name}")
        user.email = f"{name}@example.test"
        user.save(update_fields=["email"])
        group.users.add(user)
    mi.refresh_from_db()
    return mi


def test_write_from_a_draft_send_and_see_it_listed(
    alice: Any,
    room: MajorIncident,
    live_server: Any,
    chromium: Any,  # noqa: F811
) -> None:
    page = _open(chromium, live_server.url, alice, _url(room), LAPTOP)
    panel = page.locator("[data-testid=updates]")
    assert "next due" in panel.locator("[data-testid=updates-next-due]").inner_text().lower()
    panel.locator("[data-testid=update-write] > summary").click()
    panel.locator("select[name=draft-update_type]").select_option("cadence")
    panel.get_by_role("button", name="Draft from template").click()
    page.wait_for_load_state()
    panel = page.locator("[data-testid=updates]")
    impact = panel.locator("textarea[name=upd-current_impact]")
    assert impact.input_value() == "EU customers cannot complete checkout."
    assert panel.locator("input[name=upd-next_update_at]").input_value()
    page.locator("#updates").screenshot(path=str(FORM_SHOT))
    impact.fill("EU customers cannot pay by card; about 48,000 users.")
    panel.locator("textarea[name=upd-current_action]").fill(
        "We are failing over to the Dublin gateway."
    )
    panel.locator("[data-testid=update-send-now]").click()
    page.wait_for_load_state()
    # (the initial notification the declaration sent from the template is the other one)
    update = StakeholderUpdate.objects.get(major_incident=room, automatic=False)
    assert update.status == "sent" and update.drafted_by == "template"
    row = page.locator(f"#update-{update.pk}")
    assert row.locator("[data-testid=update-status]").inner_text() == "Sent"
    assert "failing over to the Dublin gateway" in row.inner_text()
    assert "sent" in row.locator("[data-testid=update-delivery]").inner_text()
    # The canned response follows the update just sent; its button copies it.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    canned = page.locator("[data-testid=canned-response]")
    canned.locator("summary").click()
    said = canned.locator("textarea").input_value()
    assert "failing over to the Dublin gateway" in said and "about 48,000 users" in said
    canned.locator("[data-testid=canned-copy]").click()
    page.wait_for_function(
        "() => document.querySelector('[data-copy-status]').textContent.length > 0"
    )
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    page.locator("#updates").screenshot(path=str(SHOT))


def test_a_second_draft_waits_for_approval_and_the_reader_sees_no_buttons(
    alice: Any,
    room: MajorIncident,
    live_server: Any,
    chromium: Any,  # noqa: F811
) -> None:
    carol = User.objects.get(username="usr_carol_comms")
    page = _open(chromium, live_server.url, carol, _url(room), PHONE)
    panel = page.locator("[data-testid=updates]")
    panel.locator("[data-testid=update-write] > summary").click()
    panel.locator("select[name=draft-update_type]").select_option("status_page")
    panel.get_by_role("button", name="Draft from template").click()
    page.wait_for_load_state()
    page.locator("[data-testid=update-save]").click()
    page.wait_for_load_state()
    # (the initial notification the declaration sent from the template is the other one)
    update = StakeholderUpdate.objects.get(major_incident=room, automatic=False)
    assert update.status == "draft" and update.author is not None
    page.locator(f"#update-{update.pk} [data-testid=update-submit]").click()
    page.wait_for_load_state()
    assert page.locator(f"#update-{update.pk} [data-testid=update-status]").inner_text() == (
        "Pending approval"
    )
    # Edit it on the page: the form comes back with its words, the change is kept in place.
    page.locator(f"#update-{update.pk} [data-testid=update-edit]").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=update-editing]").is_visible()
    page.locator("textarea[name=upd-current_action]").fill("Traffic moves to the Dublin gateway.")
    page.locator("[data-testid=update-save]").click()
    page.wait_for_load_state()
    assert "Dublin gateway" in page.locator(f"#update-{update.pk}").inner_text()
    assert StakeholderUpdate.objects.filter(major_incident=room).count() == 2
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    page.locator("#updates").screenshot(path=str(PHONE_SHOT))
    tina = make_user("usr_tina_tech", "technician")
    reader = _open(chromium, live_server.url, tina, _url(room), PHONE)
    assert reader.locator("[data-testid=update-form]").count() == 0
    assert reader.locator("[data-testid=update-actions]").count() == 0
    assert reader.locator(f"#update-{update.pk}").is_visible()
