"""The KPI dashboard in Chromium at 1366 px: every chart drew (a Chart instance per canvas and
non-blank pixels on each), the tiles show their figures, "show incidents" opens the list, and
nothing is wider than the screen. Screenshot: /tmp/kpis.png (looked at while building it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_war_room import LAPTOP, OVERFLOW, _open, chromium  # noqa: F401
from tests.pir.metrics_data import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOT = Path("/tmp/kpis.png")
CANVASES = [
    "chart-mis-per-month",
    "chart-mttr-per-month",
    "chart-per-priority",
    "chart-mtbf",
    "chart-shares",
]
# How many pixels of a canvas are not transparent: a chart that drew has many.
INKED = """(id) => {
  const canvas = document.getElementById(id);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) inked++; }
  return inked;
}"""


def test_the_dashboard_draws_its_charts_and_fits_1366_px(
    alice: Any,
    live_server: Any,
    chromium: Any,  # noqa: F811
) -> None:
    data = build()
    path = "/kpis/?from=2026-01-01&to=2026-06-30"
    page = _open(chromium, live_server.url, alice, path, LAPTOP)
    page.wait_for_function("document.documentElement.dataset.kpiCharts === '5'")
    assert page.evaluate("Object.keys(window.mimKpiCharts).sort()") == sorted(CANVASES)
    for canvas in CANVASES:
        assert page.evaluate(INKED, canvas) > 500, canvas
    assert page.evaluate("window.mimKpiCharts['chart-mis-per-month'].data.datasets[0].data") == [
        0,
        0,
        2,
        1,
        0,
        0,
    ]
    assert page.locator("#kpi-mtbf .kpi-tile__value").inner_text() == "9 d 1 h"
    tile = page.locator("#kpi-mi_count")
    tile.locator("summary").click()
    assert tile.locator("li a").first.inner_text() == data["mis"][2].number
    overflow = page.evaluate(OVERFLOW)
    assert overflow["fits"], overflow
    page.screenshot(path=str(SHOT), full_page=True)
