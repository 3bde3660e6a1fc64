"""The review editor in Chromium: the IC fills a section and saves it, adds an action item, sees
what still blocks publishing, publishes, and opens the printable document; both pages fit a
1366 px laptop without scrolling sideways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pir.models import PostIncidentReview, ReviewActionItem, ReviewStatus
from tests.browser.test_war_room import LAPTOP, OVERFLOW, _open, chromium  # noqa: F401
from tests.pir.conftest import (  # noqa: F401
    bob,
    committed,
    mi,
    p1,
    resolved,
    review,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

EDITOR_SHOT = Path("/tmp/pir_editor.png")
EDITOR_TOP_SHOT = Path("/tmp/pir_editor_top.png")
PUBLISHED_SHOT = Path("/tmp/pir_editor_published.png")
PRINT_SHOT = Path("/tmp/pir_print.png")
PRINT_TOP_SHOT = Path("/tmp/pir_print_top.png")
PANEL_SHOT = Path("/tmp/pir_panel.png")


def test_fill_save_add_an_item_see_the_blockers_publish_and_print(
    alice: Any,
    bob: Any,  # noqa: F811
    review: PostIncidentReview,  # noqa: F811
    live_server: Any,
    chromium: Any,  # noqa: F811
) -> None:
    number = review.major_incident.number
    page = _open(chromium, live_server.url, alice, f"/war-rooms/{number}/pir/", LAPTOP)
    assert page.locator("[data-testid=pir-status]").first.inner_text() == "Draft"
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}

    summary = page.locator("[data-testid=pir-form-summary]")
    summary.locator("textarea[name=summary]").fill(
        "Card payments failed for EU customers for 40 minutes."
    )
    summary.locator("input[name=customers_affected]").fill("48210")
    summary.get_by_role("button", name="Save summary & impact").click()
    page.wait_for_load_state()
    assert "Summary & impact saved (version 2)." in page.locator(".messages").inner_text()
    assert "40 minutes" in page.locator("textarea[name=summary]").input_value()

    page.locator("[data-testid=pir-add-action] > summary").click()
    add = page.locator("[data-testid=pir-add-action]")
    add.locator("input[name=new-title]").fill("Canary the gateway config")
    add.locator("input[name=new-owner]").fill(bob.username)
    add.locator("input[name=new-due_date]").fill("2026-12-31")
    add.get_by_role("button", name="Add action item").click()
    page.wait_for_load_state()
    item = page.locator("[data-testid=pir-action-item]")
    assert "Canary the gateway config" in item.inner_text()

    blockers = page.locator("[data-testid=pir-blockers]").inner_text()
    assert "The review needs the root causes before it is published." in blockers
    assert "needs a priority" in blockers
    assert page.locator("[data-testid=pir-publish-button]").count() == 0
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    page.screenshot(path=str(EDITOR_TOP_SHOT))
    page.evaluate("window.scrollTo(0, 0)")  # the sticky side column where a reader starts
    page.screenshot(path=str(EDITOR_SHOT), full_page=True)

    causes = page.locator("[data-testid=pir-form-causes]")
    causes.locator("textarea[name=root_causes]").fill("A config push removed the EU route.")
    causes.get_by_role("button", name="Save causes").click()
    page.wait_for_load_state()
    page.locator("[data-testid=pir-action-item] details > summary").click()
    edit = page.locator("[data-testid=pir-edit-action]")
    edit.locator("select[name$=-priority]").select_option("2")
    edit.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=pir-blockers]").count() == 0

    page.locator("[data-testid=pir-publish-button]").click()
    page.wait_for_load_state()
    assert "The review is published" in page.locator(".messages").inner_text()
    assert page.locator("[data-testid=pir-status]").first.inner_text() == "Published"
    assert page.locator("textarea").count() == 0
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(PUBLISHED_SHOT), full_page=True)

    page.locator("[data-testid=pir-print-link]").click()
    page.wait_for_load_state()
    document = page.locator("[data-testid=pir-print]")
    assert "A config push removed the EU route." in document.inner_text()
    assert "Canary the gateway config" in document.inner_text()
    assert page.locator("form").count() == 0 and page.locator("nav").count() == 0
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    page.screenshot(path=str(PRINT_SHOT), full_page=True)
    page.screenshot(path=str(PRINT_TOP_SHOT))
    # Printed: no way back to the editor on paper, and an A4 document of several pages (the big
    # parts each start a page).
    page.emulate_media(media="print")
    assert not page.locator(".pir-doc__back").is_visible()
    pdf = page.pdf(format="A4")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pdf.startswith(b"%PDF") and pages >= 4, pages
    page.emulate_media(media="screen")

    # The war room of the resolved MI shows where its review stands, and the way to it.
    page.goto(f"{live_server.url}/war-rooms/{number}/")
    panel = page.locator("[data-testid=pir-panel]")
    assert panel.locator("[data-testid=pir-panel-status]").inner_text() == "Published"
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    panel.screenshot(path=str(PANEL_SHOT))
    panel.locator("[data-testid=pir-panel-link]").click()
    page.wait_for_url(f"{live_server.url}/war-rooms/{number}/pir/")

    review.refresh_from_db()
    assert review.status == ReviewStatus.PUBLISHED
    assert ReviewActionItem.objects.get(review=review).priority == 2
