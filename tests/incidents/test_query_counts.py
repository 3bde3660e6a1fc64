"""No N+1: every list endpoint costs the same number of queries for 5 rows as for 50 (STYLE 8).

Rows are made with every relation the serializers show filled in, and each row points at its own
related objects, so a per-row query would show up as a difference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import (
    Change,
    ConfigurationItem,
    Incident,
    Problem,
    SystemProperty,
    TimelineEntry,
    TimelineKind,
)

User = get_user_model()


class Rows:
    """Makes rows numbered on from where the last call stopped."""

    def __init__(self) -> None:
        self.made = 0

    def user(self, i: int, role: str = "x") -> Any:
        return User.objects.create(username=f"usr_{role}_{i}")

    def ci(self, i: int) -> ConfigurationItem:
        provider = ConfigurationItem.objects.create(name=f"provider-{i}", kind="database")
        ci = ConfigurationItem.objects.create(name=f"ci-{i}", kind="application", user_count=i)
        services.set_dependencies(ci=ci, providers=[provider])
        return ci

    def problem(self, i: int) -> Problem:
        return Problem.objects.create(
            short_description=f"problem {i}",
            affected_ci=self.ci(i),
            assigned_to=self.user(i, "assignee"),
            created_by=self.user(i, "creator"),
        )


def _incidents(rows: Rows, start: int, stop: int) -> None:
    for i in range(start, stop):
        parent = Incident.objects.create(short_description=f"parent {i}")
        Incident.objects.create(
            short_description=f"incident {i}",
            caller=rows.user(i, "caller"),
            assigned_to=rows.user(i, "assignee"),
            affected_ci=rows.ci(i),
            problem=Problem.objects.create(short_description=f"problem {i}"),
            parent=parent,
        )


def _cis(rows: Rows, start: int, stop: int) -> None:
    for i in range(start, stop):
        rows.ci(i)


def _problems(rows: Rows, start: int, stop: int) -> None:
    for i in range(start, stop):
        rows.problem(i)


def _changes(rows: Rows, start: int, stop: int) -> None:
    for i in range(start, stop):
        Change.objects.create(
            short_description=f"change {i}",
            affected_ci=ConfigurationItem.objects.create(name=f"ci-{i}", kind="server"),
            problem=Problem.objects.create(short_description=f"problem {i}"),
            implementer=rows.user(i, "implementer"),
            created_by=rows.user(i, "creator"),
        )


def _properties(rows: Rows, start: int, stop: int) -> None:
    if start == 0:
        SystemProperty.objects.all().delete()
    for i in range(start, stop):
        SystemProperty.objects.create(
            key=f"zz_property_{i:03d}", value=i, updated_by=rows.user(i, "editor")
        )


# (url, maker, how many rows a maker call of n makes appear in the list)
ENDPOINTS: dict[str, tuple[str, Callable[[Rows, int, int], None], int]] = {
    "incidents": ("/api/incidents/", _incidents, 2),  # each incident comes with its parent
    "cis": ("/api/cis/", _cis, 2),  # each CI comes with its provider
    "problems": ("/api/problems/", _problems, 1),
    "changes": ("/api/changes/", _changes, 1),
    "system-properties": ("/api/system-properties/", _properties, 1),
}


def _measure(client: Any, url: str) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def _rows(body: Any) -> list[Any]:
    return body["results"] if isinstance(body, dict) else body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_list_query_count_does_not_grow_with_rows(sam_api, endpoint):
    url, make, per_call = ENDPOINTS[endpoint]
    url += "?page_size=200"
    rows = Rows()
    sam_api.get(url)  # first request syncs the token's user and roles

    make(rows, 0, 5)
    few, body = _measure(sam_api, url)
    assert len(_rows(body)) == 5 * per_call

    make(rows, 5, 50)
    many, body = _measure(sam_api, url)
    assert len(_rows(body)) == 50 * per_call

    assert many == few
    assert few <= 12, f"{endpoint}: {few} queries for one page is too many"


def test_incident_list_shows_the_related_values(sam_api, db):
    rows = Rows()
    _incidents(rows, 0, 1)
    child = Incident.objects.exclude(parent=None).get()
    row = next(
        r for r in sam_api.get("/api/incidents/").json()["results"] if r["number"] == child.number
    )
    assert row["caller"] == "usr_caller_0"
    assert row["assigned_to"] == "usr_assignee_0"
    assert row["affected_ci_name"] == "ci-0"
    assert row["parent"] == child.parent.number
    assert row["problem"] == child.problem.number


def test_timeline_query_count_does_not_grow_with_rows(sam_api, make_incident):
    incident = make_incident()
    url = f"/api/incidents/{incident.number}/timeline/?page_size=500"
    sam_api.get(url)

    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            TimelineEntry.objects.create(
                incident=incident,
                kind=TimelineKind.NOTE,
                message=f"note {i}",
                actor=User.objects.create(username=f"usr_note_{i}"),
            )

    add(0, 5)
    few, body = _measure(sam_api, url)
    assert len(body["results"]) == 6
    add(5, 50)
    many, body = _measure(sam_api, url)
    assert len(body["results"]) == 51
    assert body["results"][-1]["actor"] == "usr_note_49"
    assert many == few


def test_impact_query_count_does_not_grow_with_dependents(sam_api, make_ci):
    root = make_ci("root", users=1)
    url = f"/api/cis/{root.pk}/impact/"
    sam_api.get(url)
    for i in range(5):
        make_ci(f"dep-{i}", users=1, depends_on=(root,))
    few, body = _measure(sam_api, url)
    assert body["affected_users"] == 6
    for i in range(5, 50):
        make_ci(f"dep-{i}", users=1, depends_on=(root,))
    many, body = _measure(sam_api, url)
    assert body["affected_users"] == 51
    assert many == few
