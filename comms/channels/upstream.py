"""Reading a SaaS provider's own status page: Atlassian Statuspage's public ``summary.json``
(``/api/v2/summary.json``), which most providers' pages serve, and which ours serves too
(``/status/api/v2/summary.json``).

The only network I/O of the upstream watch (``comms.services.upstream``), called outside any
transaction. A conditional GET with the ETag of the last read (a ``304`` costs the provider
nothing), a bounded body and a deadline, so a slow, huge or hostile page cannot hold a worker;
every failure is a ``TransportError`` with a message fit for the war room.

The answer is third-party text: kept as plain strings, bounded, and links only if http(s);
the pages escape it when they show it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime

from . import http
from .base import TransportError

SUMMARY_PATH = "/api/v2/summary.json"
MAX_BODY_BYTES = 2 * 1024 * 1024
CONNECT_TIMEOUT_S = 5.0
MAX_COMPONENTS = 200
MAX_INCIDENTS = 50
MAX_NAME = 200
INDICATORS = ("none", "minor", "major", "critical", "maintenance")


@dataclass(frozen=True)
class UpstreamIncident:
    id: str
    name: str
    status: str
    impact: str
    url: str
    updated_at: str

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "impact": self.impact,
            "url": self.url,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Summary:
    """What the provider's page says, in the shape ``UpstreamStatus`` stores."""

    indicator: str
    description: str
    components: list[dict[str, str]] = field(default_factory=list)
    incidents: list[UpstreamIncident] = field(default_factory=list)
    page_updated_at: datetime | None = None


@dataclass(frozen=True)
class Read:
    """One GET: the summary, or ``not_modified`` (304: what we hold is still current)."""

    url: str
    etag: str
    summary: Summary | None
    not_modified: bool = False


def summary_url(url: str) -> str:
    """The ``summary.json`` of a status page, from the page's own URL or any of its v2 JSON URLs.

    ``https://status.example.com`` and ``…/`` → ``https://status.example.com/api/v2/summary.json``;
    ``…/api/v2/status.json`` (or ``components.json``, …) → ``…/api/v2/summary.json``; a page under a
    path (``https://example.com/status/``) keeps its path. Query and fragment are dropped.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TransportError(f"not an http(s) status page URL: {url!r}", permanent=True)
    path = parts.path.rstrip("/")
    marker = path.find("/api/v2")
    base = path[:marker] if marker >= 0 else path
    return urlunsplit((parts.scheme, parts.netloc, base + SUMMARY_PATH, "", ""))


def fetch_summary(url: str, *, etag: str = "") -> Read:
    """GET the provider's ``summary.json``; ``TransportError`` for anything but a usable answer."""
    target = summary_url(url)
    timeout = float(settings.MIM_UPSTREAM_TIMEOUT)
    headers = {"Accept": "application/json", "User-Agent": "MIM Desk upstream status watch"}
    if etag:
        headers["If-None-Match"] = etag
    what = f"status page {target}"
    try:
        # stream: the body is read below up to the bound, not whole into memory first.
        response = http.session().get(
            target,
            headers=headers,
            timeout=(min(CONNECT_TIMEOUT_S, timeout), timeout),
            stream=True,
            allow_redirects=True,
        )
    except requests.Timeout as exc:
        raise TransportError(f"{what}: no answer within {timeout:g} s") from exc
    except requests.RequestException as exc:
        raise TransportError(f"{what}: {exc.__class__.__name__}: {exc}") from exc
    with response:
        if response.status_code == 304:
            return Read(target, response.headers.get("ETag", etag), None, not_modified=True)
        if response.status_code >= 400:
            raise TransportError(f"{what}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise TransportError(f"{what}: unexpected HTTP {response.status_code}")
        body = _bounded_body(response, what, deadline=time.monotonic() + 2 * timeout)
    summary = parse_summary(body, what=what)
    return Read(target, (response.headers.get("ETag") or "")[:200], summary)


def _bounded_body(response: requests.Response, what: str, *, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TransportError(f"{what}: answer of {declared} bytes, over {MAX_BODY_BYTES}")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise TransportError(f"{what}: answer over {MAX_BODY_BYTES} bytes")
            # The read timeout is per chunk: a page dripping bytes would never time out.
            if time.monotonic() > deadline:
                raise TransportError(f"{what}: answer too slow")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise TransportError(f"{what}: {exc.__class__.__name__} reading the answer") from exc
    return b"".join(chunks)


def _text(value: Any, limit: int = MAX_NAME) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _link(value: Any) -> str:
    """A link from the provider, only if it is http(s): a ``javascript:`` URL is no link."""
    text = _text(value, 500)
    return text if urlsplit(text).scheme in ("http", "https") else ""


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def parse_summary(body: bytes, *, what: str = "status page") -> Summary:
    """Statuspage's summary shape: ``status.indicator``/``description``, ``components[]``,
    ``incidents[]``, ``page.updated_at``. Anything else → ``TransportError`` saying what."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TransportError(
            f"{what}: not JSON ({exc.__class__.__name__})", permanent=True
        ) from exc
    if not isinstance(data, dict):
        raise TransportError(f"{what}: not a Statuspage summary (no object)", permanent=True)
    status = data.get("status")
    if not isinstance(status, dict) or not isinstance(status.get("indicator"), str):
        raise TransportError(
            f"{what}: not a Statuspage summary (no status.indicator)", permanent=True
        )
    indicator = status["indicator"].strip().lower()
    if indicator not in INDICATORS:
        raise TransportError(f"{what}: unknown status indicator {indicator[:20]!r}", permanent=True)
    raw_page = data.get("page")
    page: dict[str, Any] = raw_page if isinstance(raw_page, dict) else {}
    page_url = _link(page.get("url")).rstrip("/")
    components = [
        {
            "id": _text(c.get("id"), 64),
            "name": _text(c.get("name")),
            "status": _text(c.get("status"), 32),
        }
        for c in _objects(data.get("components"))[:MAX_COMPONENTS]
        if _text(c.get("name")) and not c.get("group")
    ]
    incidents = []
    for item in _objects(data.get("incidents"))[:MAX_INCIDENTS]:
        name = _text(item.get("name"))
        if not name:
            continue
        incident_id = _text(item.get("id"), 64)
        url = _link(item.get("shortlink"))
        if not url and page_url and incident_id:
            url = f"{page_url}/incidents/{incident_id}"
        incidents.append(
            UpstreamIncident(
                id=incident_id,
                name=name,
                status=_text(item.get("status"), 32),
                impact=_text(item.get("impact"), 16),
                url=url,
                updated_at=_text(item.get("updated_at"), 40),
            )
        )
    return Summary(
        indicator=indicator,
        description=_text(status.get("description"), 500),
        components=components,
        incidents=incidents,
        page_updated_at=_moment(page.get("updated_at")),
    )


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
