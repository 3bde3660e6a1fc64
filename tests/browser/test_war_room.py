"""The war room in Chromium (issue 7): it fits a laptop (1366×768) and a phone (375×812) without
scrolling sideways, its move buttons move the MI, its clocks tick without a reload, and what one
user posts another sees within 5 s (once the timeline panel is merged)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident, MajorIncident, MIStatus, RaciRole
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import PASSWORD, make_user
from tests.incidents.mi_fixtures import declare

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 812}

# How far the document scrolls sideways, and which elements are wider than their box.
OVERFLOW = """() => {
  const wide = [];
  for (const el of document.querySelectorAll('main *')) {
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible') {
      wide.push(`${el.tagName.toLowerCase()}.${el.className || '-'}`);
    }
  }
  return {
    fits: document.documentElement.scrollWidth <= window.innerWidth,
    wide: wide,
  };
}"""


@pytest.fixture
def room(make_ci: Any, make_incident: Any, alice: Any) -> MajorIncident:
    """alice's MI, as a war room has it an hour in: a bridge, an update due, a long summary."""
    checkout = make_ci("Checkout Service", users=48_210)
    incident = make_incident(
        short_description="Checkout returns 503 for EU customers on card payments",
        affected_ci=checkout,
        impact=1,
        urgency=1,
    )
    mi = declare(
        incident,
        alice,
        bridge_link="https://meet.example.com/abc-defg-hij",
        summary="Acquirer gateway in Frankfurt answers 503; failover to Dublin is being tested. "
        "Trace id 7f3e0c2a9b1d4e6f8a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5 in the logs.",
        initial_impact_statement="EU customers cannot complete checkout; card payments fail.",
    )
    Incident.objects.filter(pk=incident.pk).update(affected_users=48_210)
    MajorIncident.objects.filter(pk=mi.pk).update(
        bridge_dial_in="+44 20 7946 0000, PIN 318 442#",
        declared_at=timezone.now() - timedelta(minutes=62),
        next_update_due_at=timezone.now() + timedelta(minutes=13),
    )
    bob = make_user("usr_bob_builder", "technician")
    services.assign_role(mi=mi, role=RaciRole.TECHNICAL_LEAD, user=bob, actor=alice)
    mi.refresh_from_db()
    return mi


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The browser itself, for a test that needs two users side by side (two contexts)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); skipped")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see tests/browser/conftest.py
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(browser: Any, base: str, user: Any, path: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    _log_in(page, base, user, path)
    return page


def _log_in(page: Any, base: str, user: Any, path: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{path}")


def _url(mi: MajorIncident) -> str:
    return f"/war-rooms/{mi.number}/"


def test_the_war_room_fits_a_laptop_and_a_phone(
    alice: Any, room: MajorIncident, live_server: Any, chromium: Any, screenshots: Path
) -> None:
    base = live_server.url
    page = _open(chromium, base, alice, _url(room), LAPTOP)
    header = page.locator("[data-testid=war-room-header]")
    assert header.locator("[data-testid=mi-status]").inner_text().lower() == "declared"
    assert "usr_alice_johnson" in header.locator("[data-testid=header-ic]").inner_text()
    assert "48,210" in header.locator("[data-testid=header-users]").inner_text()
    assert re.search(r"1 h 0[23] min", header.locator("[data-testid=header-elapsed]").inner_text())
    assert re.search(
        r"in 1[23] min", header.locator("[data-testid=header-next-update]").inner_text()
    )
    assert header.locator("[data-testid=bridge-join]").get_attribute("href") == room.bridge_link
    assert "PIN 318 442#" in header.locator("[data-testid=bridge-dial-in]").inner_text()
    # The moves are in the header, above the fold of a laptop.
    move = page.locator("button[data-move=investigating]")
    box = move.bounding_box()
    assert box is not None and box["y"] + box["height"] <= LAPTOP["height"]
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    page.screenshot(path=str(screenshots / "war_room_1366.png"))
    page.screenshot(path=str(screenshots / "war_room_1366_full.png"), full_page=True)

    # On a laptop the timeline is the widest column.
    widths = {
        area: page.locator(f"#wr-{area}").bounding_box()["width"]
        for area in ("timeline", "checkpoints")
    }
    assert widths["timeline"] > 2 * widths["checkpoints"]

    phone = _open(chromium, base, alice, _url(room), PHONE)
    assert phone.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    # One column: the timeline first, then what the team works through.
    timeline, checkpoints = (
        phone.locator(f"#wr-{area}").bounding_box() for area in ("timeline", "checkpoints")
    )
    assert timeline["y"] < checkpoints["y"]
    assert abs(timeline["x"] - checkpoints["x"]) < 1
    phone.screenshot(path=str(screenshots / "war_room_375.png"))
    phone.screenshot(path=str(screenshots / "war_room_375_full.png"), full_page=True)


def test_a_reader_gets_no_buttons_and_the_page_still_fits_a_phone(
    room: MajorIncident, live_server: Any, chromium: Any, screenshots: Path
) -> None:
    tina = make_user("usr_tina_tech", "technician")
    page = _open(chromium, live_server.url, tina, _url(room), PHONE)
    assert page.locator("[data-move]").count() == 0
    assert page.locator("[data-testid=no-moves]").is_visible()
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    page.screenshot(path=str(screenshots / "war_room_375_reader.png"), full_page=True)


def test_the_move_buttons_move_the_mi(
    alice: Any, room: MajorIncident, live_server: Any, chromium: Any, screenshots: Path
) -> None:
    base = live_server.url
    page = _open(chromium, base, alice, _url(room), LAPTOP)
    page.fill("[data-testid=transition-form] textarea[name=reason]", "Payments team on the bridge")
    page.click("button[data-move=investigating]")
    page.wait_for_url(f"{base}{_url(room)}")
    status = page.locator("[data-testid=mi-status]")
    status.filter(has_text=re.compile("investigating", re.I)).wait_for()
    room.refresh_from_db()
    assert room.status == MIStatus.INVESTIGATING
    assert "is now investigating" in page.locator(".messages").inner_text()
    # Investigating is no move from investigating: its button is gone, the others stay.
    assert page.locator("button[data-move=investigating]").count() == 0
    assert page.locator("button[data-move=identified]").count() == 1
    page.screenshot(path=str(screenshots / "war_room_after_move.png"))

    # A refused move (cancel without a reason) comes back here, saying why.
    page.click("button[data-move=cancelled]")
    page.wait_for_url(f"{base}{_url(room)}#lifecycle")
    assert "Cancelling needs a reason" in page.locator("#lifecycle").inner_text()
    page.screenshot(path=str(screenshots / "war_room_refused_move.png"))
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}


def test_the_clocks_tick_without_a_reload(
    alice: Any, room: MajorIncident, live_server: Any, chromium: Any
) -> None:
    now = timezone.now()
    MajorIncident.objects.filter(pk=room.pk).update(
        declared_at=now - timedelta(seconds=50), next_update_due_at=now + timedelta(seconds=8)
    )
    page = _open(chromium, live_server.url, alice, _url(room), LAPTOP)
    elapsed = page.locator("[data-testid=header-elapsed] time")
    due = page.locator("[data-testid=header-next-update]")
    assert re.fullmatch(r"\d+ s", elapsed.inner_text())
    assert "wr-fact--overdue" not in (due.get_attribute("class") or "")
    # Past the minute and past the due time, with no navigation in between.
    elapsed.filter(has_text=re.compile(r"^1 min$")).wait_for(timeout=20_000)
    page.locator("[data-testid=header-next-update].wr-fact--overdue").wait_for(timeout=20_000)
    assert due.locator("time").inner_text().startswith("overdue by ")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_the_header_shows_what_someone_else_changed_without_a_reload(
    alice: Any, room: MajorIncident, live_server: Any, chromium: Any, screenshots: Path
) -> None:
    base = live_server.url
    tina = make_user("usr_tina_tech", "technician")
    page = _open(chromium, base, tina, _url(room), LAPTOP)
    assert page.locator("[data-testid=header-stale]").count() == 0
    # Meanwhile, on the bridge, the IC moves it.
    services.transition_major_incident(mi=room, to=MIStatus.IDENTIFIED, actor=alice)
    page.locator("[data-testid=mi-status]", has_text=re.compile("identified", re.I)).wait_for(
        timeout=15_000
    )
    stale = page.locator("[data-testid=header-stale]")
    assert f"{room.number} is now identified" in stale.inner_text()
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert page.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    page.screenshot(path=str(screenshots / "war_room_header_live.png"))

    # The session ends: the next poll sends the browser to log in, not a login form into the header.
    page.context.clear_cookies()
    page.wait_for_url(re.compile(r".*/accounts/login/\?next=/war-rooms/MI\d{7}/$"), timeout=15_000)


def test_what_one_posts_the_other_sees_within_5_s(
    alice: Any, room: MajorIncident, live_server: Any, chromium: Any, screenshots: Path
) -> None:
    bob = room.role_assignments.get(role=RaciRole.TECHNICAL_LEAD).user
    base = live_server.url
    writer = _open(chromium, base, alice, _url(room), LAPTOP)
    reader = _open(chromium, base, bob, _url(room), PHONE)
    reader.wait_for_load_state("networkidle")
    body = "Failover to Dublin started at the acquirer <script>alert(1)</script>"

    form = writer.locator("form[data-testid=timeline-post]")
    form.locator("textarea[name=body]").fill(body)
    form.locator("button[type=submit], input[type=submit]").first.click()
    writer.locator("[data-testid=timeline-entry]", has_text="Failover to Dublin").first.wait_for()

    # The reader never reloads: the entry arrives by itself, within 5 s.
    entry = reader.locator("[data-testid=timeline-entry]", has_text="Failover to Dublin").first
    entry.wait_for(timeout=5_000)
    assert "<script>alert(1)</script>" in entry.inner_text()  # shown as text, not run
    assert reader.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert reader.evaluate(OVERFLOW) == {"fits": True, "wide": []}
    reader.screenshot(path=str(screenshots / "war_room_live_reader_375.png"), full_page=True)
    writer.screenshot(path=str(screenshots / "war_room_live_writer_1366.png"))
