"""One FilterSet per list for the page and the API (STYLE habit 15): same filters, same rows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from incidents import services
from incidents.selectors.filters import IncidentFilter
from tests.conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(tina: Any, make_incident: Any) -> dict[str, Any]:
    p1 = make_incident(short_description="Payments down", impact=1, urgency=1)
    typo = make_incident(short_description="Typo on the FAQ", description="footer link broken")
    mine = make_incident(short_description="VPN flaps", assigned_to=tina)
    held = make_incident(short_description="Printer jam", impact=2, urgency=3)
    services.update_incident(incident=held, actor=tina, state="on_hold")
    services.resolve_incident(incident=typo, actor=tina, resolution_notes="fixed")
    return {"p1": p1, "typo": typo, "mine": mine, "held": held}


QUERIES = [
    ("", {"p1", "typo", "mine", "held"}),
    ("priority=1", {"p1"}),
    ("state=resolved", {"typo"}),
    ("state=open", {"p1", "mine", "held"}),
    ("state=on_hold&state=resolved", {"typo", "held"}),
    ("mine=on", {"mine"}),
    ("mine=true", {"mine"}),
    ("q=footer", {"typo"}),
    ("q=PAYMENTS", {"p1"}),
    ("q={mine}", {"mine"}),
    ("state=open&priority=1", {"p1"}),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_page_and_api_filter_alike(tina, rows, query, expected):
    query = query.format(mine=rows["mine"].number.lower())
    numbers = {rows[name].number for name in expected}

    web = Client()
    web.force_login(tina)
    page = web.get(f"/incidents/?{query}")
    assert page.status_code == 200
    assert set(re.findall(r">(INC\d{7})<", page.content.decode())) == numbers

    api = bearer_client(tina).get(f"/api/incidents/?{query}")
    assert api.status_code == 200, api.content
    assert {row["number"] for row in api.json()["results"]} == numbers


def test_the_filter_bar_is_the_filtersets_form(tina, rows):
    web = Client()
    web.force_login(tina)
    response = web.get("/incidents/?state=open&priority=2&mine=on&q=vpn")
    form = response.context["filters"]
    assert set(form.fields) == set(IncidentFilter.base_filters)
    html = response.content.decode()
    # One choice on the page, with an "any" option first, the chosen one selected.
    assert re.search(r'<select name="state"[^>]*>\s*<option value="">Any state</option>', html)
    assert '<option value="open" selected>Open</option>' in html
    assert '<option value="2" selected>P2</option>' in html
    assert re.search(r'<input type="checkbox" name="mine"[^>]*checked', html)
    assert 'value="vpn"' in html


def test_a_bad_value_is_ignored_on_the_page_and_400_in_the_api(tina, rows):
    web = Client()
    web.force_login(tina)
    page = web.get("/incidents/?priority=9&state=bogus")
    assert page.status_code == 200
    assert len(set(re.findall(r">(INC\d{7})<", page.content.decode()))) == 4
    api = bearer_client(tina).get("/api/incidents/?priority=9&state=bogus")
    assert api.status_code == 400
    assert set(api.json()) == {"priority", "state"}
