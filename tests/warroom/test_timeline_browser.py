"""Two people on one MI's timeline in Chromium: bob posts with the panel's form (htmx), alice
sees it within 5 s without reloading; ``<script>`` in the post stays text.

The war-room page is another module's; this test serves the timeline panel inside the base layout
from a route of its own (this module is the test's URL conf), as the page includes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.utils import timezone

from config import urls as project_urls
from incidents.models import MajorIncident
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from tests.conftest import PASSWORD
from warroom.web import timeline as panel_module

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls(__name__),
]

_PAGE = engines["django"].from_string(
    '{% extends "base.html" %}{% block content %}{% include "warroom/_timeline.html" %}'
    "{% endblock %}"
)


def _panel_page(request: HttpRequest, number: str) -> HttpResponse:
    from django.contrib.auth.views import redirect_to_login

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    mi = MajorIncident.objects.by_number(number).get()
    context = {"mi": mi, "user": request.user, "now": timezone.now()}
    context |= panel_module.panel(request, mi)
    return HttpResponse(_PAGE.render(context, request))


urlpatterns = [path("test-timeline/<str:number>/", _panel_page), *project_urls.urlpatterns]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed; browser tests skipped")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _signed_in(browser: Any, base: str, user: Any, path_: str) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{base}{path_}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"**{path_}")
    return page


def test_one_posts_the_other_sees_it_within_5_seconds(
    alice: Any, bob: Any, mi: MajorIncident, live_server: Any, browser: Any
) -> None:
    from playwright.sync_api import expect

    path_ = f"/test-timeline/{mi.number}/"
    watcher = _signed_in(browser, live_server.url, alice, path_)
    poster = _signed_in(browser, live_server.url, bob, path_)
    form = poster.locator('form[data-testid="timeline-post"]')
    form.locator('textarea[name="body"]').fill(
        "**DB failover** done <script>window.pwned = 1</script>"
    )
    form.locator('select[name="kind"]').select_option("finding")
    form.locator('button[type="submit"]').click()
    # The poster's own list shows it at once (the post's event makes the poller ask).
    mine = poster.locator('[data-testid="timeline-entry"]').first
    expect(mine).to_contain_text("DB failover", timeout=3_000)
    expect(poster.locator('textarea[name="body"]')).to_have_value("")
    # The other browser, never reloaded, within 5 s.
    theirs = watcher.locator('[data-testid="timeline-entry"]').first
    expect(theirs).to_contain_text("DB failover", timeout=5_000)
    expect(theirs).to_contain_text("<script>window.pwned = 1</script>")
    assert watcher.evaluate("window.pwned === undefined")
    assert theirs.locator("strong").inner_text() == "DB failover"
    # The next post comes too: the poller carried its new cursor, and nothing came twice.
    expect(form.locator('textarea[name="body"]')).to_have_value("")
    form.locator('textarea[name="body"]').fill("second post")
    form.locator('button[type="submit"]').click()
    expect(watcher.locator('[data-testid="timeline-entry"]').first).to_contain_text(
        "second post", timeout=5_000
    )
    texts = watcher.locator('[data-testid="timeline-entry"]').all_inner_texts()
    assert sum("DB failover" in t for t in texts) == 1
    assert sum("second post" in t for t in texts) == 1
    # A filter swaps the list and its poller; the poller keeps the filter.
    watcher.locator('select[name="timeline_kind"]').select_option("finding")
    expect(watcher.locator('[data-testid="timeline-entry"]')).to_have_count(1, timeout=5_000)
    form.locator('textarea[name="body"]').fill("a note the filter hides")
    form.locator('button[type="submit"]').click()
    expect(form.locator('textarea[name="body"]')).to_have_value("")  # the fresh form is back
    form.locator('textarea[name="body"]').fill("a finding the filter shows")
    form.locator('select[name="kind"]').select_option("finding")
    form.locator('button[type="submit"]').click()
    expect(watcher.locator('[data-testid="timeline-entry"]').first).to_contain_text(
        "a finding the filter shows", timeout=5_000
    )
    watcher.wait_for_timeout(2_500)  # one more poll: the note must still not come
    texts = watcher.locator('[data-testid="timeline-entry"]').all_inner_texts()
    assert len(texts) == 2 and not any("filter hides" in t for t in texts), texts
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot: Path = SCREENSHOTS / "warroom-timeline-two-browsers.png"
    watcher.screenshot(path=str(shot), full_page=True)
