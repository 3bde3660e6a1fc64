# ruff: noqa: F811  (the fixtures imported from test_status_fixtures are pytest arguments)
"""The status page over HTTP: Statuspage v2 shapes (JSON Schema), caching, conditional requests,
CORS, anonymous access, refused methods, and the queries a request costs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from comms.web import status as status_web
from incidents import services
from incidents.models import ConfigurationItem, MajorIncident, MIStatus
from tests.incidents.mi_fixtures import T0

from .test_status_fixtures import ENDPOINTS, Shop, get, get_json, outage, publish, shop  # noqa: F401

pytestmark = pytest.mark.django_db

# Written from Atlassian Statuspage's public API v2 (statuspage.io/api/v2 and its clients'
# type definitions): every field a client may read, with its type; nothing more is required.
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TIME = {"type": "string", "format": "date-time"}
PAGE = {
    "type": "object",
    "required": ["id", "name", "url", "time_zone", "updated_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "url": {"type": "string"},
        "time_zone": {"type": "string"},
        "updated_at": TIME,
    },
}
COMPONENT_STATUS = {
    "enum": [
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    ]
}
COMPONENT = {
    "type": "object",
    "required": [
        "id",
        "name",
        "status",
        "created_at",
        "updated_at",
        "position",
        "description",
        "showcase",
        "start_date",
        "group_id",
        "page_id",
        "group",
        "only_show_if_degraded",
    ],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "status": COMPONENT_STATUS,
        "created_at": TIME,
        "updated_at": TIME,
        "position": {"type": "integer"},
        "description": {"type": ["string", "null"]},
        "showcase": {"type": "boolean"},
        "start_date": {"type": ["string", "null"], "format": "date"},
        "group_id": {"type": ["string", "null"]},
        "page_id": {"type": "string"},
        "group": {"type": "boolean"},
        "only_show_if_degraded": {"type": "boolean"},
    },
}
INCIDENT_STATUS = {"enum": ["investigating", "identified", "monitoring", "resolved", "postmortem"]}
INCIDENT_UPDATE = {
    "type": "object",
    "required": [
        "id",
        "status",
        "body",
        "incident_id",
        "created_at",
        "updated_at",
        "display_at",
        "affected_components",
        "deliver_notifications",
        "custom_tweet",
        "tweet_id",
    ],
    "properties": {
        "id": {"type": "string"},
        "status": INCIDENT_STATUS,
        "body": {"type": "string"},
        "incident_id": {"type": "string"},
        "created_at": TIME,
        "updated_at": TIME,
        "display_at": TIME,
        "affected_components": {"type": ["array", "null"]},
        "deliver_notifications": {"type": "boolean"},
        "custom_tweet": {"type": ["string", "null"]},
        "tweet_id": {"type": ["string", "null"]},
    },
}
INCIDENT = {
    "type": "object",
    "required": [
        "id",
        "name",
        "status",
        "created_at",
        "updated_at",
        "monitoring_at",
        "resolved_at",
        "impact",
        "shortlink",
        "started_at",
        "page_id",
        "incident_updates",
        "components",
    ],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "status": INCIDENT_STATUS,
        "created_at": TIME,
        "updated_at": NULLABLE_TIME,
        "monitoring_at": NULLABLE_TIME,
        "resolved_at": NULLABLE_TIME,
        "impact": {"enum": ["none", "minor", "major", "critical"]},
        "shortlink": {"type": "string"},
        "started_at": TIME,
        "page_id": {"type": "string"},
        "incident_updates": {"type": "array", "items": INCIDENT_UPDATE},
        "components": {"type": "array", "items": COMPONENT},
    },
}
STATUS = {
    "type": "object",
    "required": ["indicator", "description"],
    "properties": {
        "indicator": {"enum": ["none", "minor", "major", "critical"]},
        "description": {"type": "string"},
    },
}


def _doc(**properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


MAINTENANCES = {"type": "array", "maxItems": 0}
SCHEMAS = {
    "/status/api/v2/summary.json": _doc(
        page=PAGE,
        components={"type": "array", "items": COMPONENT},
        incidents={"type": "array", "items": INCIDENT},
        scheduled_maintenances=MAINTENANCES,
        status=STATUS,
    ),
    "/status/api/v2/status.json": _doc(page=PAGE, status=STATUS),
    "/status/api/v2/components.json": _doc(
        page=PAGE, components={"type": "array", "items": COMPONENT}
    ),
    "/status/api/v2/incidents.json": _doc(
        page=PAGE, incidents={"type": "array", "items": INCIDENT}
    ),
    "/status/api/v2/incidents/unresolved.json": _doc(
        page=PAGE, incidents={"type": "array", "items": INCIDENT}
    ),
    "/status/api/v2/scheduled-maintenances.json": _doc(
        page=PAGE, scheduled_maintenances=MAINTENANCES
    ),
    "/status/api/v2/scheduled-maintenances/upcoming.json": _doc(
        page=PAGE, scheduled_maintenances=MAINTENANCES
    ),
    "/status/api/v2/scheduled-maintenances/active.json": _doc(
        page=PAGE, scheduled_maintenances=MAINTENANCES
    ),
}
OUR_UPDATE = _doc(
    id={"type": "string"},
    status=INCIDENT_STATUS,
    current_impact={"type": "string"},
    current_action={"type": "string"},
    user_action={"type": "string"},
    next_update_at=NULLABLE_TIME,
    sent_at=TIME,
)
OUR_INCIDENT = _doc(
    id={"type": "string"},
    name={"type": "string"},
    status=INCIDENT_STATUS,
    impact={"enum": ["none", "minor", "major", "critical"]},
    started_at=TIME,
    monitoring_at=NULLABLE_TIME,
    resolved_at=NULLABLE_TIME,
    updated_at=TIME,
    components={"type": "array", "items": {"type": "string"}},
    updates={"type": "array", "items": OUR_UPDATE},
)
OURS = _doc(
    page=_doc(name={"type": "string"}, url={"type": "string"}, updated_at=TIME),
    status=STATUS,
    components={
        "type": "array",
        "items": _doc(
            id={"type": "string"},
            name={"type": "string"},
            description={"type": "string"},
            status=COMPONENT_STATUS,
            updated_at=TIME,
        ),
    },
    incidents={"type": "array", "items": OUR_INCIDENT},
    recent_incidents={"type": "array", "items": OUR_INCIDENT},
    scheduled_maintenances=MAINTENANCES,
)
CHECKER = jsonschema.FormatChecker()


@pytest.fixture
def busy(shop: Shop, outage: Callable[..., MajorIncident], alice: Any) -> MajorIncident:
    """An outage with one public update, and an older resolved MI."""
    with freeze_time(T0 - timedelta(days=1)):
        old = outage(shop.payroll, short_description="Payroll slow")
    with freeze_time(T0 - timedelta(days=1) + timedelta(minutes=5)):
        services.transition_major_incident(mi=old, to=MIStatus.MONITORING, actor=alice)
    with freeze_time(T0 - timedelta(hours=23)):
        services.transition_major_incident(mi=old, to=MIStatus.RESOLVED, actor=alice)
    with freeze_time(T0):
        mi = outage(shop.db)
        publish(mi, alice)
    return mi


@pytest.mark.parametrize("path", sorted(SCHEMAS))
def test_v2_shapes_match_statuspage(busy: MajorIncident, path: str) -> None:
    with freeze_time(T0 + timedelta(minutes=1)):
        doc = get_json(path)
    jsonschema.validate(doc, SCHEMAS[path], format_checker=CHECKER)


def test_v2_shapes_hold_with_nothing_going_on(db: None) -> None:
    for path, schema in SCHEMAS.items():
        jsonschema.validate(get_json(path), schema, format_checker=CHECKER)


def test_v2_incidents_are_filled(busy: MajorIncident) -> None:
    with freeze_time(T0 + timedelta(minutes=1)):
        incidents = get_json("/status/api/v2/incidents.json")["incidents"]
    assert [i["status"] for i in incidents] == ["investigating", "resolved"]
    assert incidents[0]["incident_updates"][0]["incident_id"] == busy.number
    assert incidents[0]["shortlink"].endswith(f"/status/#{busy.number}")
    assert incidents[1]["resolved_at"] is not None
    assert incidents[1]["incident_updates"] == []


def test_our_summary_shape(busy: MajorIncident) -> None:
    with freeze_time(T0 + timedelta(minutes=1)):
        doc = get_json("/status/summary.json")
    jsonschema.validate(doc, OURS, format_checker=CHECKER)
    assert [i["id"] for i in doc["incidents"]] == [busy.number]
    assert len(doc["recent_incidents"]) == 1
    [update] = doc["incidents"][0]["updates"]
    assert update["current_impact"] == "Customers cannot pay at checkout."


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_access(busy: MajorIncident, path: str) -> None:
    response = get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == f"public, max-age={status_web.FRESH_SECONDS}"
    assert response["ETag"].startswith('"')
    assert "Last-Modified" in response


@pytest.mark.parametrize("path", ENDPOINTS)
def test_writes_are_refused(db: None, path: str) -> None:
    for method in ("post", "put", "patch", "delete"):
        assert getattr(Client(), method)(path).status_code == 405, (method, path)


def test_json_allows_any_origin_and_the_page_does_not(db: None) -> None:
    json = get("/status/api/v2/summary.json")
    assert json["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in json["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in get("/status/")


def test_cors_preflight(db: None) -> None:
    response = Client().options(
        "/status/api/v2/summary.json",
        headers={"Origin": "https://widgets.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in response["Access-Control-Allow-Headers"]


def test_head(busy: MajorIncident) -> None:
    response = Client().head("/status/api/v2/status.json")
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("path", ["/status/", "/status/api/v2/summary.json"])
def test_etag_answers_304_until_something_changes(
    busy: MajorIncident, alice: Any, path: str
) -> None:
    first = get(path)
    etag = first["ETag"]
    again = Client().get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    publish(busy, alice, impact="Payments work again for some customers.")
    changed = Client().get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_if_modified_since(busy: MajorIncident, alice: Any) -> None:
    first = get("/status/api/v2/summary.json")
    stamp = first["Last-Modified"]
    same = Client().get("/status/api/v2/summary.json", headers={"If-Modified-Since": stamp})
    assert same.status_code == 304
    with freeze_time(timezone.now() + timedelta(minutes=5)):
        publish(busy, alice, impact="Later news.")
        newer = get("/status/api/v2/summary.json", headers={"If-Modified-Since": stamp})
    assert newer.status_code == 200
    assert newer["Last-Modified"] != stamp


def test_last_modified_is_the_newest_shown_change(busy: MajorIncident) -> None:
    # The shop's CIs were written with the real clock; date them before the incidents.
    ConfigurationItem.objects.update(updated_at=T0 - timedelta(days=2))
    with freeze_time(T0 + timedelta(minutes=1)):
        doc = get_json("/status/api/v2/summary.json")
        response = get("/status/api/v2/summary.json")
    assert doc["page"]["updated_at"] == max(
        [c["updated_at"] for c in doc["components"]] + [i["updated_at"] for i in doc["incidents"]]
    )
    assert response["Last-Modified"] == "Mon, 03 Mar 2025 09:00:00 GMT"  # the update, sent at T0


def test_cached_requests_touch_no_database(busy: MajorIncident) -> None:
    status_web.forget()
    client = Client()
    with CaptureQueriesContext(connection) as building:
        client.get("/status/api/v2/summary.json")
    assert 1 <= len(building) <= 6, [q["sql"] for q in building]
    for path in ENDPOINTS:
        with CaptureQueriesContext(connection) as cached:
            assert client.get(path).status_code == 200
        assert len(cached) == 0, (path, [q["sql"] for q in cached])


def test_the_build_costs_the_same_for_5_and_50_incidents(
    shop: Shop, outage: Callable[..., MajorIncident], alice: Any
) -> None:
    def cost() -> int:
        status_web.forget()
        with CaptureQueriesContext(connection) as queries:
            Client().get("/status/api/v2/summary.json")
        return len(queries)

    for n in range(5):
        publish(outage(shop.checkout, short_description=f"A {n}"), alice)
    few = cost()
    for n in range(45):
        publish(outage(shop.db, short_description=f"B {n}"), alice)
    assert cost() == few


def test_a_fresh_snapshot_is_served_for_its_ttl(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    with freeze_time(T0) as clock:
        first = get_json("/status/api/v2/status.json")
        assert first["status"]["indicator"] == "none"
        outage(shop.checkout)
        # Within the TTL the snapshot stands (no forget() here) ...
        cached = Client().get("/status/api/v2/status.json").json()
        assert cached["status"]["indicator"] == "none"
        # ... after it, the next request builds a new one.
        clock.tick(timedelta(seconds=status_web.FRESH_SECONDS + 1))
        fresh = Client().get("/status/api/v2/status.json").json()
        assert fresh["status"]["indicator"] == "critical"


def test_a_stale_snapshot_is_served_while_another_request_rebuilds(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    from django.core.cache import cache

    with freeze_time(T0) as clock:
        get_json("/status/api/v2/status.json")
        outage(shop.checkout)
        clock.tick(timedelta(seconds=status_web.FRESH_SECONDS + 1))
        cache.add(status_web.REBUILD_KEY, 1, 30)  # someone else is rebuilding
        with CaptureQueriesContext(connection) as queries:
            stale = Client().get("/status/api/v2/status.json").json()
        assert stale["status"]["indicator"] == "none"
        assert len(queries) == 0
        cache.delete(status_web.REBUILD_KEY)
        assert Client().get("/status/api/v2/status.json").json()["status"]["indicator"] == (
            "critical"
        )


@pytest.mark.parametrize(
    "path", ["/status/api/v2/nothing.json", "/status/api/v2/incidents/MI0000001.json"]
)
def test_unknown_api_paths_are_a_json_404(db: None, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"
    assert Client().post(path).status_code == 405


def test_a_process_notices_a_snapshot_built_elsewhere(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    from django.core.cache import cache

    assert get_json("/status/api/v2/status.json")["status"]["indicator"] == "none"
    held = status_web._local["snapshot"]["id"]
    outage(shop.checkout)
    # Another process rebuilt: the shared cache names a new snapshot this one has not seen.
    elsewhere = status_web.build()
    cache.set(status_web.SNAPSHOT_KEY, elsewhere, 60)
    cache.set(status_web.VERSION_KEY, {"id": elsewhere["id"]}, 60)
    assert Client().get("/status/api/v2/status.json").json()["status"]["indicator"] == "critical"
    assert status_web._local["snapshot"]["id"] == elsewhere["id"] != held
    # A cleared cache is noticed too, though this process still holds a copy.
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        Client().get("/status/api/v2/status.json")
    assert len(queries) > 0


@pytest.mark.parametrize("path", ["/status/", "/status/api/v2/summary.json"])
def test_everyone_gets_the_same_bytes(busy: MajorIncident, alice: Any, path: str) -> None:
    """Nothing on the page depends on who asks, so one cached body serves all (and a signed-in
    manager sees no more than the public)."""
    anonymous = get(path)
    signed_in = Client()
    signed_in.force_login(alice)
    theirs = signed_in.get(path)
    assert theirs.content == anonymous.content
    assert theirs["ETag"] == anonymous["ETag"]
    assert "Cookie" not in anonymous.get("Vary", "")
