"""What each monitoring tool posts, read into one shape (``Notification``): the dedup key that
names its incident, firing or resolved, a title and description, labels, and its alerts.

A payload that is not the documented shape raises ``Malformed`` naming the field (a dotted
path, ``alerts.3.labels``), which the endpoint answers with 400 and keeps for inspection.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

FIRING = "firing"
RESOLVED = "resolved"
MAX_ALERTS = 1000
MAX_KEY = 10_000
MAX_LABELS = 100
MAX_TEXT = 10_000
MAX_LABEL_VALUE = 1000


class Malformed(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


@dataclass
class AlertIn:
    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""


@dataclass
class Notification:
    dedup_key: str
    status: str
    title: str
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    alerts: list[AlertIn] = field(default_factory=list)
    ci_name: str = ""
    impact: int | None = None
    urgency: int | None = None

    def summary(self) -> dict[str, Any]:
        """The parse result kept with the raw payload."""
        return {
            "dedup_key": self.dedup_key[:200],
            "status": self.status,
            "title": self.title,
            "labels": self.labels,
            "alerts": [
                {"fingerprint": a.fingerprint, "status": a.status} for a in self.alerts[:100]
            ],
            "alert_count": len(self.alerts),
            "ci": self.ci_name,
            "impact": self.impact,
            "urgency": self.urgency,
        }


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(where, "must be a JSON object")
    return value


def _text(value: Any, where: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    if value is None:
        value = ""
    if isinstance(value, (dict, list)):
        raise Malformed(where, "must be a string")
    text = (str(value).lower() if isinstance(value, bool) else str(value)).strip()
    if required and not text:
        raise Malformed(where, "is required")
    if len(text) > limit:
        raise Malformed(where, f"is longer than {limit} characters")
    return text


def _strings(value: Any, where: str) -> dict[str, str]:
    """A map of label names to values (numbers become their text; nothing nested)."""
    if value is None:
        return {}
    mapping = _object(value, where)
    if len(mapping) > MAX_LABELS:
        raise Malformed(where, f"has more than {MAX_LABELS} entries")
    return {
        _text(k, where, required=True, limit=200): _text(v, f"{where}.{k}", limit=MAX_LABEL_VALUE)
        for k, v in mapping.items()
    }


def _moment(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    text = _text(value, where, limit=64)
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Malformed(where, "must be an RFC 3339 time with its offset")
    # Alertmanager's "no end yet" is the zero time.
    return None if moment.year <= 1 else moment


def _status(value: Any, where: str) -> str:
    status = _text(value, where, required=True, limit=16).lower()
    if status not in (FIRING, RESOLVED):
        raise Malformed(where, "must be 'firing' or 'resolved'")
    return status


def _severity(value: Any, where: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Malformed(where, "must be 1, 2 or 3")
    try:
        number = int(value)
    except ValueError:
        raise Malformed(where, "must be 1, 2 or 3") from None
    if number not in (1, 2, 3):
        raise Malformed(where, "must be 1, 2 or 3")
    return number


def _fingerprint_of(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:32]


def _alerts(value: Any) -> list[AlertIn]:
    if not isinstance(value, list):
        raise Malformed("alerts", "must be a list")
    if len(value) > MAX_ALERTS:
        raise Malformed("alerts", f"has more than {MAX_ALERTS} alerts")
    alerts = []
    for i, raw in enumerate(value):
        where = f"alerts.{i}"
        item = _object(raw, where)
        labels = _strings(item.get("labels"), f"{where}.labels")
        fingerprint = _text(item.get("fingerprint"), f"{where}.fingerprint", limit=128)
        alerts.append(
            AlertIn(
                fingerprint=fingerprint or _fingerprint_of(labels),
                status=_status(item.get("status") or FIRING, f"{where}.status"),
                labels=labels,
                annotations=_strings(item.get("annotations"), f"{where}.annotations"),
                starts_at=_moment(item.get("startsAt"), f"{where}.startsAt"),
                ends_at=_moment(item.get("endsAt"), f"{where}.endsAt"),
                generator_url=_text(item.get("generatorURL"), f"{where}.generatorURL", limit=1000),
            )
        )
    return alerts


def _group_title(data: dict[str, Any], labels: dict[str, str], alerts: list[AlertIn]) -> str:
    annotations = _strings(data.get("commonAnnotations"), "commonAnnotations")
    first = alerts[0] if alerts else None
    return (
        annotations.get("summary")
        or (first.annotations.get("summary") if first else "")
        or labels.get("alertname")
        or (first.labels.get("alertname") if first else "")
        or "Monitoring alert"
    )


def _group_description(data: dict[str, Any], alerts: list[AlertIn]) -> str:
    annotations = _strings(data.get("commonAnnotations"), "commonAnnotations")
    if annotations.get("description"):
        return annotations["description"]
    lines = []
    for alert in alerts[:20]:
        text = alert.annotations.get("description") or alert.annotations.get("summary") or ""
        name = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        lines.append(f"- [{alert.status}] {name}" + (f": {text}" if text else ""))
    return "\n".join(lines)


def parse_alertmanager(data: Any) -> Notification:
    """Prometheus Alertmanager's webhook, version 4."""
    data = _object(data, "")
    version = _text(data.get("version"), "version", required=True, limit=8)
    if version != "4":
        raise Malformed("version", f"Alertmanager webhook version {version!r}; this reads '4'")
    alerts = _alerts(data.get("alerts"))
    labels = _strings(data.get("commonLabels"), "commonLabels")
    _strings(data.get("groupLabels"), "groupLabels")
    return Notification(
        dedup_key=_text(data.get("groupKey"), "groupKey", required=True, limit=MAX_KEY),
        status=_status(data.get("status"), "status"),
        title=_group_title(data, labels, alerts)[:200],
        description=_group_description(data, alerts),
        labels=labels,
        alerts=alerts,
    )


def parse_grafana(data: Any) -> Notification:
    """Grafana alerting's webhook contact point: Alertmanager's shape with a title and message."""
    data = _object(data, "")
    alerts = _alerts(data.get("alerts"))
    labels = _strings(data.get("commonLabels"), "commonLabels")
    title = _text(data.get("title"), "title", limit=MAX_TEXT) or _group_title(data, labels, alerts)
    return Notification(
        dedup_key=_text(data.get("groupKey"), "groupKey", required=True, limit=MAX_KEY),
        status=_status(data.get("status"), "status"),
        title=title[:200],
        description=_text(data.get("message"), "message") or _group_description(data, alerts),
        labels=labels,
        alerts=alerts,
    )


# Datadog's $ALERT_TRANSITION values that mean the monitor is healthy again.
DATADOG_RECOVERED = {"recovered"}
DATADOG_PRIORITY = {"p1": 1, "p2": 1, "p3": 2, "p4": 3, "p5": 3, "normal": None, "low": 3}


def parse_datadog(data: Any) -> Notification:
    """Datadog's webhook integration with the payload template in the README (its variables)."""
    data = _object(data, "")
    alert_id = _text(data.get("alert_id"), "alert_id", limit=200)
    aggregate = _text(data.get("aggregate"), "aggregate", limit=MAX_KEY)
    key = aggregate or alert_id
    if not key:
        raise Malformed("aggregate", "is required (or alert_id)")
    transition = _text(data.get("transition"), "transition", required=True, limit=64)
    status = RESOLVED if transition.lower() in DATADOG_RECOVERED else FIRING
    tags: dict[str, str] = {}
    for tag in _text(data.get("tags"), "tags").split(","):
        name, _, value = tag.strip().partition(":")
        if name:
            tags[name[:200]] = value[:MAX_LABEL_VALUE]
    hostname = _text(data.get("hostname"), "hostname", limit=500)
    title = _text(data.get("title"), "title", required=True, limit=MAX_TEXT)
    priority = _text(data.get("priority"), "priority", limit=16).lower()
    alert = AlertIn(
        fingerprint=hashlib.sha256(f"{alert_id}|{hostname}".encode()).hexdigest()[:32],
        status=status,
        labels={**tags, **({"host": hostname} if hostname else {})},
        annotations={"summary": title[:MAX_LABEL_VALUE]},
        generator_url=_text(data.get("link"), "link", limit=1000),
    )
    return Notification(
        dedup_key=key,
        status=status,
        title=title[:200],
        description=_text(data.get("body"), "body"),
        labels=alert.labels,
        alerts=[alert],
        urgency=DATADOG_PRIORITY.get(priority),
    )


def parse_webhook(data: Any) -> Notification:
    """The generic JSON webhook (README, "Monitoring webhooks"): one alert per dedup key."""
    data = _object(data, "")
    key = _text(data.get("dedup_key"), "dedup_key", required=True, limit=MAX_KEY)
    status = _status(data.get("status") or FIRING, "status")
    labels = _strings(data.get("labels"), "labels")
    summary = _text(data.get("summary"), "summary", required=status == FIRING, limit=MAX_TEXT)
    alert = AlertIn(
        fingerprint=hashlib.sha256(key.encode()).hexdigest()[:32],
        status=status,
        labels=labels,
        annotations={"summary": summary[:MAX_LABEL_VALUE]},
        generator_url=_text(data.get("url"), "url", limit=1000),
    )
    return Notification(
        dedup_key=key,
        status=status,
        title=(summary or key)[:200],
        description=_text(data.get("description"), "description"),
        labels=labels,
        alerts=[alert],
        ci_name=_text(data.get("ci"), "ci", limit=200),
        impact=_severity(data.get("impact"), "impact"),
        urgency=_severity(data.get("urgency"), "urgency"),
    )


PARSERS = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "datadog": parse_datadog,
    "webhook": parse_webhook,
}
