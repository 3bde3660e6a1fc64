"""Headless Chromium for the browser tests, driven by Playwright's sync API.

We use Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it) and never download a browser:
``playwright install`` is not part of any workflow. Without the binary the tests skip and say why.

Two things about Playwright's sync API inside a Django test process:

- While it runs, an asyncio loop is marked as running in this thread. Django then refuses ORM
  calls ("async unsafe") and hands out separate, context-local database connections. So the
  browser lives only as long as one test (function scope), ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set
  only meanwhile, and tests should request their data fixtures *before* ``page``.
- ``live_server`` needs a transactional database, which Django empties after the test;
  ``tests/conftest.py`` puts the seeded reference data back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        pytest.skip("playwright is not installed; browser tests skipped")
    # Only while the browser runs (see the module docstring); the test does not share its
    # connections with Playwright's loop, so the guard protects nothing here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
