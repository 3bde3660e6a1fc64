"""The incident list's filter bar (the API's FilterSet's form) and a 403 page, in Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import incidents.tasks  # noqa: F401  (registers the tasks services queue by name, as a worker does)
from incidents import services
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def _log_in(page: Any, base: str, user: Any, path: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_filter_bar_filters_and_keeps_its_choices(
    tina: Any, make_incident: Any, live_server: Any, page: Any, screenshots: Path
) -> None:
    make_incident(short_description="Payments down", impact=1, urgency=2)
    done = make_incident(short_description="Typo on the FAQ")
    make_incident(short_description="VPN flaps", assigned_to=tina)
    services.resolve_incident(incident=done, actor=tina, resolution_notes="fixed")
    base = live_server.url
    _log_in(page, base, tina, "/incidents/")
    page.wait_for_url(f"{base}/incidents/")

    page.select_option("select[name=state]", "open")
    page.check("input[name=mine]")
    page.click("form.filterbar button[type=submit]")
    page.wait_for_url(f"{base}/incidents/?*")
    rows = page.locator("table.table--incidents tbody tr")
    assert rows.count() == 1
    assert "VPN flaps" in rows.first.inner_text()
    assert page.locator("select[name=state]").input_value() == "open"
    assert page.locator("input[name=mine]").is_checked()
    page.screenshot(path=str(screenshots / "incident_list_filtered.png"), full_page=True)


def test_a_403_page_says_who_may(
    oscar: Any, live_server: Any, page: Any, screenshots: Path
) -> None:
    base = live_server.url
    _log_in(page, base, oscar, "/major-incidents/candidates/")
    page.wait_for_url(f"{base}/major-incidents/candidates/")
    text = page.locator("[data-testid=refusal]").inner_text()
    assert "Only ITSM managers and super admins may declare, cancel or downgrade" in text
    assert "usr_oscar_outsider, with no MIM Desk role" in text
    page.screenshot(path=str(screenshots / "refusal_403.png"), full_page=True)
