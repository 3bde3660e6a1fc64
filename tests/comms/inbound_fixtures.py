"""Shared helpers of the inbound webhook tests: sources, payloads, and posting them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.test import Client

from comms.models import InboundSource
from comms.services import inbound


def source(kind: str, name: str | None = None, **fields: Any) -> tuple[InboundSource, str]:
    return inbound.create_source(kind=kind, name=name or f"{kind}-test", actor=None, **fields)


def post(client: Client, kind: str, body: Any, token: str = "", **headers: str) -> Any:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(f"/api/inbound/{kind}/", raw, content_type="application/json", **extra)


def grafana_signature(secret: str, body: bytes, timestamp: str = "") -> str:
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    if timestamp:
        mac.update(timestamp.encode() + b":")
    mac.update(body)
    return mac.hexdigest()


def am_alert(name: str = "HighErrorRate", status: str = "firing", **labels: str) -> dict:
    labels = {"alertname": name, **labels}
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{name} on {labels.get('service', 'checkout')}"},
        "startsAt": "2026-12-01T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-01T10:30:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16],
    }


def alertmanager(
    group: str = '{}:{alertname="HighErrorRate"}', status: str = "firing", alerts: Any = None
) -> dict:
    alerts = alerts if alerts is not None else [am_alert(status=status)]
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "mimdesk",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "service": "checkout"},
        "commonAnnotations": {"summary": "Checkout error rate above 5%"},
        "externalURL": "http://alertmanager.local",
        "alerts": alerts,
    }
