"""The public status page: ``/status/`` (HTML), ``/status/summary.json`` (our own shape) and
``/status/api/v2/…`` (Atlassian Statuspage's public API v2, field for field). No login.

During an outage this is the most requested page we serve, so one request in ``FRESH_SECONDS``
builds the document (five queries) and renders every representation at once; the others read
the rendered bytes from Django's cache (each process keeps the last snapshot it read and only
checks a small version key) and touch no database. A stale snapshot keeps being served
while one request (the one that wins ``cache.add`` of the rebuild lock) builds the next, so an
expiry under load is one rebuild, not one per waiting client. ``ETag`` (a hash of the bytes) and
``Last-Modified`` (the newest ``updated_at`` shown) answer conditional requests with 304.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_http_methods

from ..selectors import status as selectors
from ..selectors.status import (
    REBUILD_KEY,
    SNAPSHOT_KEY,
    STATUS_CACHE_KEYS,
    VERSION_KEY,
    Component,
    Incident,
    IncidentUpdate,
    Maintenance,
    StatusDocument,
)

FRESH_SECONDS = 10
# How long a stale snapshot may still be served while the next one is built; a rebuild that
# died (a killed worker) frees its lock after REBUILD_LOCK_SECONDS.
STALE_SECONDS = 300
REBUILD_LOCK_SECONDS = 10
PAGE_ID = "mimdesk"
PAGE_NAME = "Service status"
TIME_ZONE = "Etc/UTC"
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"

Rendered = tuple[bytes, str, str]  # body, content type, ETag


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_url() -> str:
    return settings.MIM_BASE_URL.rstrip("/") + reverse("status:page")


# --- Statuspage v2 shapes -----------------------------------------------------------------


def _v2_page(doc: StatusDocument) -> dict[str, Any]:
    return {
        "id": PAGE_ID,
        "name": PAGE_NAME,
        "url": page_url(),
        "time_zone": TIME_ZONE,
        "updated_at": _iso(doc.updated_at),
    }


def _v2_component(c: Component) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "position": c.position,
        "description": c.description or None,
        "showcase": True,
        "start_date": c.created_at.astimezone(UTC).date().isoformat(),
        "group_id": None,
        "page_id": PAGE_ID,
        "group": False,
        "only_show_if_degraded": False,
    }


def _v2_update(u: IncidentUpdate, incident: Incident) -> dict[str, Any]:
    return {
        "id": u.id,
        "status": u.status,
        "body": u.body,
        "incident_id": incident.id,
        "created_at": _iso(u.sent_at),
        "updated_at": _iso(u.sent_at),
        "display_at": _iso(u.sent_at),
        "affected_components": None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def _v2_incident(i: Incident, doc: StatusDocument) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "created_at": _iso(i.created_at),
        "updated_at": _iso(i.updated_at),
        "monitoring_at": _iso(i.monitoring_at),
        "resolved_at": _iso(i.resolved_at),
        "impact": i.impact,
        "shortlink": f"{page_url()}#{i.id}",
        "started_at": _iso(i.started_at),
        "page_id": PAGE_ID,
        "incident_updates": [_v2_update(u, i) for u in i.updates],
        "components": [_v2_component(c) for c in doc.components_of(i)],
    }


def _v2_maintenance(m: Maintenance, doc: StatusDocument) -> dict[str, Any]:
    """Statuspage's scheduled maintenance: an incident with ``impact: maintenance`` and its
    window; its updates are the maintenance's public updates."""
    components = [_v2_component(c) for c in doc.components_of(m)]
    return {
        "id": m.id,
        "name": m.name,
        "status": m.status,
        "created_at": _iso(m.created_at),
        "updated_at": _iso(m.updated_at),
        "monitoring_at": _iso(m.monitoring_at),
        "resolved_at": _iso(m.resolved_at),
        "impact": "maintenance",
        "shortlink": f"{page_url()}#maintenance-{m.id}",
        "started_at": _iso(m.started_at or m.scheduled_for),
        "page_id": PAGE_ID,
        "incident_updates": [
            {
                "id": u.id,
                "status": u.status,
                "body": u.body,
                "incident_id": m.id,
                "created_at": _iso(u.created_at),
                "updated_at": _iso(u.created_at),
                "display_at": _iso(u.created_at),
                "affected_components": None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for u in m.updates
        ],
        "components": components,
        "scheduled_for": _iso(m.scheduled_for),
        "scheduled_until": _iso(m.scheduled_until),
    }


def _v2(doc: StatusDocument) -> dict[str, dict[str, Any]]:
    page = _v2_page(doc)
    status = {"indicator": doc.indicator, "description": doc.description}
    components = [_v2_component(c) for c in doc.components]
    unresolved = [_v2_incident(i, doc) for i in doc.unresolved]
    recent = [_v2_incident(i, doc) for i in doc.incidents[: selectors.RECENT_INCIDENTS]]
    active = [_v2_maintenance(m, doc) for m in doc.active_maintenances]
    upcoming = [_v2_maintenance(m, doc) for m in doc.upcoming_maintenances]
    recent_windows = [_v2_maintenance(m, doc) for m in doc.maintenances]
    return {
        "v2/summary": {
            "page": page,
            "components": components,
            "incidents": unresolved,
            # Statuspage: "any upcoming or in progress scheduled maintenances".
            "scheduled_maintenances": active + upcoming,
            "status": status,
        },
        "v2/status": {"page": page, "status": status},
        "v2/components": {"page": page, "components": components},
        "v2/incidents": {"page": page, "incidents": recent},
        "v2/incidents/unresolved": {"page": page, "incidents": unresolved},
        "v2/scheduled-maintenances": {"page": page, "scheduled_maintenances": recent_windows},
        "v2/scheduled-maintenances/upcoming": {"page": page, "scheduled_maintenances": upcoming},
        "v2/scheduled-maintenances/active": {"page": page, "scheduled_maintenances": active},
    }


# --- our own summary.json -----------------------------------------------------------------


def _ours(doc: StatusDocument) -> dict[str, Any]:
    """``/status/summary.json``: what the HTML page shows, with the four parts kept apart."""

    def incident(i: Incident) -> dict[str, Any]:
        return {
            "id": i.id,
            "name": i.name,
            "status": i.status,
            "impact": i.impact,
            "started_at": _iso(i.started_at),
            "monitoring_at": _iso(i.monitoring_at),
            "resolved_at": _iso(i.resolved_at),
            "updated_at": _iso(i.updated_at),
            "components": list(i.component_ids),
            "updates": [
                {
                    "id": u.id,
                    "status": u.status,
                    "current_impact": u.current_impact,
                    "current_action": u.current_action,
                    "user_action": u.user_action,
                    "next_update_at": _iso(u.next_update_at),
                    "sent_at": _iso(u.sent_at),
                }
                for u in i.updates
            ],
        }

    def maintenance(m: Maintenance) -> dict[str, Any]:
        return {
            "id": m.id,
            "name": m.name,
            "status": m.status,
            "notes": m.notes,
            "scheduled_for": _iso(m.scheduled_for),
            "scheduled_until": _iso(m.scheduled_until),
            "started_at": _iso(m.started_at),
            "completed_at": _iso(m.resolved_at),
            "updated_at": _iso(m.updated_at),
            "components": list(m.component_ids),
            "updates": [
                {"id": u.id, "status": u.status, "body": u.body, "created_at": _iso(u.created_at)}
                for u in m.updates
            ],
        }

    return {
        "page": {"name": PAGE_NAME, "url": page_url(), "updated_at": _iso(doc.updated_at)},
        "status": {"indicator": doc.indicator, "description": doc.description},
        "components": [
            {
                "id": c.id,
                "name": c.name,
                "description": c.description,
                "status": c.status,
                "updated_at": _iso(c.updated_at),
            }
            for c in doc.components
        ],
        "incidents": [incident(i) for i in doc.unresolved],
        "recent_incidents": [incident(i) for i in doc.recent_resolved()],
        "scheduled_maintenances": [
            maintenance(m) for m in [*doc.active_maintenances, *doc.upcoming_maintenances]
        ],
    }


# --- the snapshot -------------------------------------------------------------------------


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


LABELS = {
    selectors.OPERATIONAL: "Operational",
    selectors.UNDER_MAINTENANCE: "Under maintenance",
    selectors.DEGRADED: "Degraded performance",
    selectors.PARTIAL_OUTAGE: "Partial outage",
    selectors.MAJOR_OUTAGE: "Major outage",
    selectors.INVESTIGATING: "Investigating",
    selectors.IDENTIFIED: "Identified",
    selectors.MONITORING: "Monitoring",
    selectors.RESOLVED: "Resolved",
    selectors.POSTMORTEM: "Postmortem",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "verifying": "Verifying",
    "completed": "Completed",
}


def _html_incident(i: Incident, doc: StatusDocument) -> dict[str, Any]:
    return {
        "incident": i,
        "label": LABELS[i.status],
        "components": doc.components_of(i),
        "updates": [{"update": u, "label": LABELS[u.status]} for u in i.updates],
    }


def _html_maintenance(m: Maintenance, doc: StatusDocument) -> dict[str, Any]:
    return {
        "maintenance": m,
        "label": LABELS[m.status],
        "components": doc.components_of(m),
        "updates": [{"update": u, "label": LABELS[u.status]} for u in m.updates],
    }


def _html(doc: StatusDocument) -> bytes:
    # The subscribe form is not in these shared bytes: it carries the reader's CSRF token, so
    # the page loads it (``status:subscribe``) and links to it for readers without JavaScript.
    worst = max(
        (c.status for c in doc.components),
        key=selectors.COMPONENT_STATUSES.index,
        default=selectors.OPERATIONAL,
    )
    context = {
        "banner_maintenance": worst == selectors.UNDER_MAINTENANCE and doc.indicator == "none",
        "active_maintenances": [_html_maintenance(m, doc) for m in doc.active_maintenances],
        "upcoming_maintenances": [_html_maintenance(m, doc) for m in doc.upcoming_maintenances],
        "doc": doc,
        "page_name": PAGE_NAME,
        "components": [{"component": c, "label": LABELS[c.status]} for c in doc.components],
        "active": [_html_incident(i, doc) for i in doc.unresolved],
        "resolved": [_html_incident(i, doc) for i in doc.recent_resolved()],
        "resolved_days": selectors.RESOLVED_DAYS,
    }
    return render_to_string("comms/status/page.html", context).encode()


def build() -> dict[str, Any]:
    """Every representation of the current status, rendered."""
    doc = selectors.document()
    bodies: dict[str, Rendered] = {}
    for name, value in [*_v2(doc).items(), ("summary", _ours(doc))]:
        body = _json(value)
        bodies[name] = (body, JSON_TYPE, _etag(body))
    html = _html(doc)
    bodies["html"] = (html, HTML_TYPE, _etag(html))
    return {
        "id": uuid.uuid4().hex,
        "bodies": bodies,
        "last_modified": doc.updated_at.timestamp(),
        "fresh_until": time.time() + FRESH_SECONDS,
    }


# The snapshot this process last read, so that a request reads only the small version key from
# the shared cache, not the ~10 rendered bodies (unpickling them was half the cost of a request
# on the file cache). Keyed by the snapshot's id: a rebuild anywhere, or a cleared cache, makes
# every process read the shared snapshot again.
_local: dict[str, Any] = {}


def _shared() -> dict[str, Any] | None:
    version: dict[str, Any] | None = cache.get(VERSION_KEY)
    if version is None:
        return None
    held = _local.get("snapshot")
    if held is not None and held["id"] == version["id"]:
        return held
    current: dict[str, Any] | None = cache.get(SNAPSHOT_KEY)
    if current is not None:
        _local["snapshot"] = current
    return current


def snapshot() -> dict[str, Any]:
    current = _shared()
    if current is not None and current["fresh_until"] > time.time():
        return current
    if current is not None and not cache.add(REBUILD_KEY, 1, REBUILD_LOCK_SECONDS):
        return current  # another request is building the next one
    fresh = build()
    keep = FRESH_SECONDS + STALE_SECONDS
    # The snapshot before the version that names it: a reader never sees an id it cannot load.
    cache.set(SNAPSHOT_KEY, fresh, keep)
    cache.set(VERSION_KEY, {"id": fresh["id"]}, keep)
    cache.delete(REBUILD_KEY)
    _local["snapshot"] = fresh
    return fresh


def forget() -> None:
    """Drop the snapshot: the next request builds a new one (tests; an operator's shell)."""
    cache.delete_many(list(STATUS_CACHE_KEYS))
    _local.clear()


# --- views --------------------------------------------------------------------------------


def _serve(request: HttpRequest, name: str, *, cors: bool) -> HttpResponseBase:
    if request.method == "OPTIONS":
        response: HttpResponseBase = HttpResponse(status=204)
    else:
        snap = snapshot()
        body, content_type, etag = snap["bodies"][name]
        last_modified = int(snap["last_modified"])
        full = HttpResponse(body, content_type=content_type)
        full["ETag"] = etag
        full["Last-Modified"] = http_date(last_modified)
        response = (
            get_conditional_response(request, etag=etag, last_modified=last_modified, response=full)
            or full
        )
        response["Cache-Control"] = f"public, max-age={FRESH_SECONDS}"
    if cors:
        # Widgets on other sites read the JSON (Statuspage's API allows any origin too).
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response["Access-Control-Allow-Headers"] = "If-None-Match, If-Modified-Since"
        response["Access-Control-Expose-Headers"] = "ETag, Last-Modified"
        response["Access-Control-Max-Age"] = "86400"
    return response


def view_of(name: str, *, cors: bool = True) -> Callable[[HttpRequest], HttpResponseBase]:
    @require_http_methods(["GET", "HEAD", "OPTIONS"])
    def view(request: HttpRequest) -> HttpResponseBase:
        return _serve(request, name, cors=cors)

    view.__name__ = "status_" + name.replace("/", "_").replace("-", "_")
    return view


@require_http_methods(["GET", "HEAD", "OPTIONS"])
def not_found(request: HttpRequest, rest: str) -> HttpResponseBase:
    """An unknown path under api/v2/: a JSON 404 a client can read, not the site's HTML one."""
    response = HttpResponse(
        _json({"error": "not_found", "detail": f"No status resource at api/v2/{rest}"}),
        status=404,
        content_type=JSON_TYPE,
    )
    response["Access-Control-Allow-Origin"] = "*"
    return response


page = view_of("html", cors=False)
summary = view_of("summary")
