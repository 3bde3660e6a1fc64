"""The KPI dashboard ``/kpis/`` (Django's test client): managers only, a tile per KPI with its
formula and tickets, the chart data in ``json_script``, refused parameters shown by name, and
the top navigation's link for those who may."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time

from .metrics_data import EXPECTED, NOW, build

pytestmark = pytest.mark.django_db
URL = "/kpis/"


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_technician_and_an_outsider_are_refused_403(
    browser_for: Any, tina: Any, oscar: Any
) -> None:
    for user in (tina, oscar):
        response = browser_for(user).get(URL)
        assert response.status_code == 403
        assert b"KPIs" not in response.content.split(b"<main")[0]  # no link in the nav


def test_a_manager_sees_every_kpi_with_its_formula_and_the_tickets_behind_it(
    browser_for: Any, alice: Any
) -> None:
    data = build()
    with freeze_time(NOW):
        response = browser_for(alice).get(URL, {"from": "2026-01-01", "to": "2026-06-30"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<a href="/kpis/" aria-current="page">KPIs</a>' in html
    assert html.count('class="kpi-tile"') == len(EXPECTED)
    tile = html.split('id="kpi-mi_mttr"')[1].split("</article>")[0]
    assert "3 h 30 min" in tile  # 12600 s
    assert "impact started at" in tile
    assert f'href="/war-rooms/{data["mis"][0].number}/"' in tile
    assert "66.7 %" in html.split('id="kpi-cadence_adherence"')[1].split("</article>")[0]
    script = re.search(r'<script id="kpi-data" type="application/json">(.*?)</script>', html, re.S)
    assert script is not None
    payload = json.loads(script[1])
    assert [m["mis"] for m in payload["monthly"]] == [0, 0, 2, 1, 0, 0]
    assert payload["by_service"][0]["service"] == "Service A"
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in html
    assert "<script>" not in html  # the chart code is in static/js/kpis.js
    assert (
        'href="/api/metrics/export.csv?from=2026-01-01&amp;to=2026-07-01T00%3A00%3A00%2B00%3A00"'
        in html
    )


def test_a_super_admin_sees_the_dashboard(browser_for: Any, sam: Any) -> None:
    assert browser_for(sam).get(URL).status_code == 200


def test_a_bad_parameter_is_shown_by_name_and_the_default_period_is_shown(
    browser_for: Any, alice: Any
) -> None:
    response = browser_for(alice).get(URL, {"from": "2026-05-01", "to": "2026-04-01"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="err-from"' in html and "must be before to" in html
    assert browser_for(alice).get(URL, {"service": "77777"}).status_code == 200
