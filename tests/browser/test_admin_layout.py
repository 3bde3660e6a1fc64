"""Every admin changelist fits a 1366 × 768 screen, in Chromium, with realistic rows in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model

import incidents.tasks  # noqa: F401  (registers the tasks services queue by name, as a worker does)
from incidents import services
from incidents.models import Change, ConfigurationItem, Problem, RoleRoster, SystemProperty
from tests.conftest import PASSWORD
from tests.incidents.test_admin import populated  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

CHANGELISTS = sorted(
    f"{model._meta.app_label}/{model._meta.model_name}" for model in admin.site._registry
)

# How much wider than its box a changelist's table is, and the page itself, in CSS pixels.
MEASURE = """() => {
  const box = document.querySelector('#changelist .results') || document.querySelector('#content');
  return {
    table: box.scrollWidth - box.clientWidth,
    page: document.documentElement.scrollWidth - window.innerWidth,
  };
}"""


def _long_rows(sam: Any) -> None:
    """Rows at the lengths the fields allow, where a column is most likely to push the table."""
    ci = ConfigurationItem.objects.create(
        name="Customer Identity and Access Management Platform (EU-West-1 primary)",
        kind="business_service",
        owner_group="Identity Platform Engineering and Operations",
        user_count=1_250_000,
    )
    user = get_user_model().objects.create_user("usr_alexandra_konstantinopoulou_ops")
    incident = services.create_incident(
        actor=sam,
        short_description="Login fails for every EU customer: the identity provider answers 502 "
        "to all token requests since the 09:40 UTC deployment of the session service",
        affected_ci=ci,
        assigned_to=user,
        impact=2,
        urgency=2,
    )
    Change.objects.create(
        short_description="Roll back the session service to 4.12.3 and drain the new pool "
        "in every region before re-enabling the canary",
        implementer=user,
        problem=Problem.objects.create(short_description="Token signing keys rotated early"),
    )
    mi = services.declare_major_incident(
        incident=incident,
        manager=sam,
        actor=sam,
        initial_impact_statement="No EU customer can log in to web or mobile; checkout and "
        "account pages fail; about 1.2 million users affected since 09:40 UTC",
    )
    RoleRoster.objects.create(role="communications_lead", user=user)
    services.assign_role(mi=mi, role="communications_lead", user=user, actor=sam)


def test_every_changelist_fits_1366_px(
    populated: Any,  # noqa: F811
    sam: Any,
    live_server: Any,
    page: Any,
    screenshots: Path,
) -> None:
    _long_rows(sam)
    get_user_model().objects.create_superuser("usr_root", "root@example.test", PASSWORD)
    page.set_viewport_size({"width": 1366, "height": 768})
    base = live_server.url
    page.goto(f"{base}/admin/login/")
    page.fill("input[name=username]", "usr_root")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    page.screenshot(path=str(screenshots / "admin_index.png"), full_page=True)

    overflowing = {}
    for changelist in CHANGELISTS:
        page.goto(f"{base}/admin/{changelist}/")
        assert page.locator("#changelist").count() == 1, changelist
        size = page.evaluate(MEASURE)
        page.screenshot(
            path=str(screenshots / f"admin_{changelist.replace('/', '_')}.png"), full_page=True
        )
        if size["table"] > 0 or size["page"] > 0:
            overflowing[changelist] = size
    assert overflowing == {}

    # A choice property is edited with a dropdown.
    mode = SystemProperty.objects.get(key="major_incident_auto_declare_mode")
    page.goto(f"{base}/admin/incidents/systemproperty/{mode.pk}/change/")
    assert page.locator("select[name=value]").input_value() == "declare"
    page.screenshot(path=str(screenshots / "admin_property_mode.png"), full_page=True)
