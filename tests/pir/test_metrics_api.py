"""``/api/metrics/`` and its CSV: managers only, the hand-computed figures, refused parameters
named, and a CSV that parses back to the same figures."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents import services
from tests.conftest import bearer_client, make_user

from .metrics_data import EXPECTED, NOW, build

pytestmark = pytest.mark.django_db
URL, CSV = "/api/metrics/", "/api/metrics/export.csv"
PERIOD = {"from": "2026-01-01", "to": "2026-06-30"}


@pytest.fixture
def data(db: None) -> dict[str, Any]:
    return build()


@pytest.mark.parametrize("url", [URL, CSV])
def test_without_a_token_it_is_401(api: APIClient, url: str) -> None:
    response = api.get(url)
    assert response.status_code == 401
    assert response.json()["detail"]


@pytest.mark.parametrize("url", [URL, CSV])
def test_a_technician_and_an_outsider_are_refused_403(
    tina_api: APIClient, oscar_api: APIClient, url: str
) -> None:
    for client in (tina_api, oscar_api):
        response = client.get(url)
        assert response.status_code == 403
        assert "ITSM managers" in response.json()["detail"]


def test_a_super_admin_sees_them_too(sam_api: APIClient) -> None:
    assert sam_api.get(URL).status_code == 200


def test_a_manager_gets_every_kpi_as_computed_by_hand(alice: Any, data: dict[str, Any]) -> None:
    with freeze_time(NOW):  # the token too, or it would be issued in the frozen clock's future
        response = bearer_client(alice).get(URL, PERIOD)
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2026-01-01T00:00:00+00:00"
    assert body["to"] == "2026-07-01T00:00:00+00:00"
    assert {k["key"]: (k["value"], k["sample"]) for k in body["kpis"]} == EXPECTED
    assert {k["unit"] for k in body["kpis"]} == {"seconds", "percent", "count"}
    assert len(body["monthly"]) == 6


def test_the_service_filter_names_the_service(alice: Any, data: dict[str, Any]) -> None:
    with freeze_time(NOW):
        body = bearer_client(alice).get(URL, {**PERIOD, "service": data["a"].pk}).json()
    assert body["service"] == {"id": data["a"].pk, "name": "Service A"}
    assert next(k for k in body["kpis"] if k["key"] == "mi_count")["value"] == 2


@pytest.mark.parametrize("url", [URL, CSV])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-05-01", "to": "2026-04-01"}, "from"),
        ({"from": "2026-05-01T00:00", "to": "2026-05-01T00:00"}, "from"),
        ({"from": "soon"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2019-01-01", "to": "2026-01-01"}, "to"),
        ({"service": "x1"}, "service"),
        ({"service": "424242"}, "service"),
        ({"service": "9" * 40}, "service"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(
    alice_api: APIClient, url: str, params: dict[str, str], field: str
) -> None:
    response = alice_api.get(url, params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_csv_parses_back_to_the_same_figures(alice: Any, data: dict[str, Any]) -> None:
    with freeze_time(NOW):
        response = bearer_client(alice).get(CSV, PERIOD)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "kpis-20260101-20260701.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    blank = rows.index([])
    head, kpis = rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:blank]]
    assert head == ["kpi", "name", "value", "unit", "sample", "formula"]
    assert {
        r["kpi"]: (float(r["value"]) if r["value"] else None, int(r["sample"])) for r in kpis
    } == EXPECTED
    months = rows[blank + 1 :]
    assert months[0] == ["month", "mis", "change_percent", "mttr_seconds"]
    assert months[3] == ["2026-03-01", "2", "", "12600.0"]
    assert months[4] == ["2026-04-01", "1", "-50.0", ""]


def test_the_csv_is_served_for_accept_text_csv(alice_api: APIClient) -> None:
    response = alice_api.get(CSV, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response.content.startswith(b"kpi,name,value")


def test_a_manager_whose_role_was_removed_is_refused_on_the_next_request(db: None) -> None:
    user = make_user("usr_mona_manager", "itsm_manager")
    client = bearer_client(user)
    assert client.get(URL).status_code == 200
    services.set_user_roles(user, ["technician"])
    assert client.get(URL).status_code == 403


def test_an_unknown_format_of_the_csv_is_a_400_naming_it(alice_api: Any) -> None:
    response = alice_api.get("/api/metrics/export.csv?format=AAA")
    assert response.status_code == 400
    assert "format" in response.json()
