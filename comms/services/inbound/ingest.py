"""Monitoring payloads into incidents: authenticate the source, keep the payload, and apply it
to the incident of its dedup key under that key's lock.

One incident per dedup key: every payload of a key first inserts-or-gets its ``AlertGroup``
(the unique pair is the claim) and takes the row ``FOR UPDATE``; only then does it decide to
open, update or resolve. Twenty identical notifications at once therefore queue on one row and
the first opens the incident the others update. Lock order: the group, then incidents (as
``incidents.services.common`` locks them), never the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.errors import DomainError
from incidents.models import (
    OPEN_MI_STATUSES,
    ConfigurationItem,
    Incident,
    MajorIncident,
    TimelineKind,
)
from incidents.models.base import BoundedJSONDecoder
from incidents.selectors.majors import governing_major_incident

from ...models import (
    Alert,
    AlertGroup,
    AlertGroupStatus,
    InboundEvent,
    InboundKind,
    InboundOutcome,
    InboundSource,
    LabelRule,
)
from .parsers import FIRING, PARSERS, RESOLVED, Malformed, Notification

logger = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024
GRAFANA_SIGNATURE = "X-Grafana-Alerting-Signature"
GRAFANA_TIMESTAMP = "X-Grafana-Alerting-Signature-Timestamp"
SIGNATURE_TOLERANCE = 300  # seconds between Grafana's timestamp and our clock
# Headers kept with a payload (never Authorization or the signature).
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For", GRAFANA_TIMESTAMP)


@dataclass
class Received:
    """What the endpoint answers: the status code and its JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def _bearer(headers: Mapping[str, str]) -> str:
    scheme, _, token = (headers.get("Authorization") or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _grafana_signed(secret: str, body: bytes, headers: Mapping[str, str], now: datetime) -> bool:
    signature = (headers.get(GRAFANA_SIGNATURE) or "").strip().lower()
    if not signature:
        return False
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    stamp = (headers.get(GRAFANA_TIMESTAMP) or "").strip()
    if stamp:
        # Grafana signs "<timestamp>:<body>" when its timestamp header is configured.
        try:
            if abs(now.timestamp() - int(stamp)) > SIGNATURE_TOLERANCE:
                return False
        except ValueError:
            return False
        mac.update(stamp.encode() + b":")
    mac.update(body)
    return hmac.compare_digest(mac.hexdigest(), signature)


def authenticate(
    kind: str, body: bytes, headers: Mapping[str, str], *, now: datetime | None = None
) -> InboundSource | None:
    """The enabled source of ``kind`` whose secret the request proves, or None.

    Every candidate is compared in constant time, so how long a refusal takes says nothing
    about how close a guess was."""
    now = now or timezone.now()
    token = _bearer(headers)
    found = None
    for source in InboundSource.objects.filter(kind=kind, enabled=True):
        if kind == InboundKind.GRAFANA:
            ok = _grafana_signed(source.secret, body, headers, now)
        else:
            ok = bool(token) and hmac.compare_digest(source.secret.encode(), token.encode())
        if ok and found is None:
            found = source
    return found


# The admin shows when a source last spoke, to the minute. Writing it on every request of an
# alert storm would add a write to the same row per request for nothing. A time ahead of this
# host's clock (written by a host whose clock runs fast) is corrected at once.
_RECEIVED_RESOLUTION = timedelta(minutes=1)


def _note_received(source: InboundSource) -> None:
    now = timezone.now()
    last = source.last_received_at
    if last is None or now - last >= _RECEIVED_RESOLUTION or last > now:
        InboundSource.objects.filter(pk=source.pk).update(last_received_at=now)


def receive(*, kind: str, body: bytes, headers: Mapping[str, str]) -> Received:
    """One request to ``/api/inbound/<kind>/``: 401 (nothing kept), 400 (kept, malformed) or
    202 with what it did."""
    source = authenticate(kind, body, headers)
    if source is None:
        return Received(401, {"detail": "Unknown source: a valid token or signature is required."})
    kept = {name: headers[name][:500] for name in KEPT_HEADERS if headers.get(name)}
    text = body.decode("utf-8", errors="replace")
    _note_received(source)
    try:
        data = json.loads(text, cls=BoundedJSONDecoder)
        notification = PARSERS[kind](data)
    except json.JSONDecodeError as exc:
        return _malformed(source, text, kept, "", f"not JSON: {exc.msg}")
    except Malformed as exc:
        return _malformed(source, text, kept, exc.field, exc.message)
    try:
        outcome, incident, note = apply(source, notification)
    except DomainError as exc:
        return _malformed(source, text, kept, exc.field or "", str(exc))
    event = InboundEvent.objects.create(
        source=source,
        body=text,
        headers=kept,
        outcome=outcome,
        error=note,
        parse_result=notification.summary(),
        dedup_key=notification.dedup_key[:255],
        incident=incident,
    )
    return Received(
        202,
        {
            "event": event.pk,
            "outcome": outcome,
            "incident": incident.number if incident is not None else None,
            **({"note": note} if note else {}),
        },
    )


def _malformed(
    source: InboundSource, text: str, headers: dict[str, str], where: str, message: str
) -> Received:
    event = InboundEvent.objects.create(
        source=source,
        body=text,
        headers=headers,
        outcome=InboundOutcome.MALFORMED,
        error=f"{where}: {message}" if where else message,
        parse_result={"error": message, "field": where},
    )
    errors = {where or "body": [message]}
    return Received(
        400, {"detail": message, "field": where or None, "errors": errors, "event": event.pk}
    )


def key_hash(dedup_key: str) -> str:
    return hashlib.sha256(dedup_key.encode()).hexdigest()


def _locked_group(source: InboundSource, notification: Notification) -> tuple[AlertGroup, bool]:
    """The key's group, inserted if new, locked ``FOR UPDATE`` (the per-key lock)."""
    digest = key_hash(notification.dedup_key)
    created = False
    if not AlertGroup.objects.filter(source=source, key_hash=digest).exists():
        try:
            with transaction.atomic():
                AlertGroup.objects.create(
                    source=source,
                    key_hash=digest,
                    dedup_key=notification.dedup_key,
                    labels=notification.labels,
                    notifications=0,
                )
            created = True
        except IntegrityError:
            pass  # another request inserted it first: wait for its lock below
    group = AlertGroup.objects.select_for_update().get(source=source, key_hash=digest)
    return group, created


@transaction.atomic
def apply(source: InboundSource, notification: Notification) -> tuple[str, Incident | None, str]:
    """Open, update or resolve the key's incident; the outcome, the incident and a note."""
    group, _ = _locked_group(source, notification)
    now = timezone.now()
    new_alerts = _store_alerts(group, notification, now)
    group.notifications += 1
    group.last_seen_at = now
    group.labels = notification.labels or group.labels
    incident = Incident.objects.filter(pk=group.incident_id).first() if group.incident_id else None
    is_open = incident is not None and incident.is_open
    resolved = notification.status == RESOLVED or (
        bool(notification.alerts) and all(a.status == RESOLVED for a in notification.alerts)
    )
    if resolved:
        group.status = AlertGroupStatus.RESOLVED
        group.resolved_at = now
        group.save()
        if incident is None or not is_open:
            return InboundOutcome.IGNORED, incident, "resolved, and no open incident for this key"
        return _recovered(source, notification, incident)
    group.status = AlertGroupStatus.FIRING
    group.resolved_at = None
    if not is_open:
        # A key firing again after its incident was resolved is a new outage: a new incident,
        # as PagerDuty opens one (the old one keeps its history and its review).
        incident = _open_incident(source, notification)
        group.incident = incident
        group.first_seen_at = now
        group.save()
        return InboundOutcome.CREATED, incident, ""
    group.save()
    assert incident is not None
    if new_alerts:
        incident_services.record(
            incident,
            TimelineKind.ALERT,
            f"{source.name}: {len(new_alerts)} more alert(s) firing: "
            + ", ".join(_alert_name(a) for a in new_alerts[:10]),
            data={"source": source.name, "fingerprints": [a.fingerprint for a in new_alerts[:50]]},
            major_incident=governing_major_incident(incident),
        )
    return InboundOutcome.UPDATED, incident, ""


def _alert_name(alert: Alert) -> str:
    return alert.labels.get("alertname") or alert.labels.get("instance") or alert.fingerprint[:12]


def _store_alerts(group: AlertGroup, notification: Notification, now: datetime) -> list[Alert]:
    """Upsert the alerts by fingerprint; the ones firing that the group did not know."""
    known = {a.fingerprint: a for a in group.alerts.all()}
    new: list[Alert] = []
    changed: list[Alert] = []
    for item in notification.alerts:
        alert = known.get(item.fingerprint)
        if alert is None:
            alert = Alert(group=group, fingerprint=item.fingerprint)
            if item.status == FIRING:
                new.append(alert)
            known[item.fingerprint] = alert
        alert.status = item.status
        alert.labels = item.labels
        alert.annotations = item.annotations
        alert.starts_at = item.starts_at
        alert.ends_at = item.ends_at
        alert.generator_url = item.generator_url
        alert.last_seen_at = now
        changed.append(alert)
    Alert.objects.bulk_create([a for a in changed if a.pk is None])
    existing = [a for a in changed if a.pk is not None]
    if existing:
        Alert.objects.bulk_update(
            existing,
            ["status", "labels", "annotations", "starts_at", "ends_at", "generator_url",
             "last_seen_at"],
        )  # fmt: skip
    # The first notification of a group opens the incident: its alerts are not "more".
    return new if group.incident_id else []


def placement(source: InboundSource, notification: Notification) -> dict[str, Any]:
    """CI, impact, urgency and group for a new incident: the payload's own fields, then the
    label rules (first rule per attribute wins), then the source's defaults."""
    chosen: dict[str, Any] = {}
    if notification.ci_name:
        ci = ConfigurationItem.objects.filter(name=notification.ci_name).first()
        if ci is not None:
            chosen["affected_ci"] = ci
    if notification.impact:
        chosen["impact"] = notification.impact
    if notification.urgency:
        chosen["urgency"] = notification.urgency
    labels = dict(notification.labels)
    for alert in notification.alerts[:1]:
        labels = {**alert.labels, **labels}
    rules = LabelRule.objects.filter(enabled=True).filter(
        source__isnull=True
    ) | LabelRule.objects.filter(enabled=True, source=source)
    for rule in rules.select_related("ci").order_by("order", "id"):
        value = labels.get(rule.label)
        if value is None or not _matches(rule.pattern, value):
            continue
        if rule.ci_id and "affected_ci" not in chosen:
            chosen["affected_ci"] = rule.ci
        if rule.impact and "impact" not in chosen:
            chosen["impact"] = rule.impact
        if rule.urgency and "urgency" not in chosen:
            chosen["urgency"] = rule.urgency
        if rule.assignment_group and "assignment_group" not in chosen:
            chosen["assignment_group"] = rule.assignment_group
    chosen.setdefault("affected_ci", source.default_ci)
    chosen.setdefault("impact", source.default_impact)
    chosen.setdefault("urgency", source.default_urgency)
    chosen.setdefault("assignment_group", source.assignment_group)
    return chosen


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        logger.warning("label rule pattern %r is not a regular expression", pattern)
        return False


def _open_incident(source: InboundSource, notification: Notification) -> Incident:
    fields = placement(source, notification)
    started = min((a.starts_at for a in notification.alerts if a.starts_at), default=None)
    if started is not None and started > timezone.now():
        started = None  # a monitoring clock ahead of ours must not fail the milestone order
    description = notification.description or notification.title
    incident = incident_services.create_incident(
        actor=None,
        short_description=notification.title[:200] or "Monitoring alert",
        description=f"Raised by {source.name} ({source.get_kind_display()}).\n\n{description}",
        channel="monitoring",
        impact_started_at=started,
        **fields,
    )
    incident_services.record(
        incident,
        TimelineKind.ALERT,
        f"{source.name}: {len(notification.alerts) or 1} alert(s) firing",
        data={"source": source.name, "dedup_key": notification.dedup_key[:200]},
    )
    _link_to_open_major_incident(incident)
    return incident


def _link_to_open_major_incident(incident: Incident) -> None:
    """An alert on the CI of an open MI is a symptom of it: a child of the MI's incident, so
    it counts toward the MI's ticket volume."""
    if incident.affected_ci_id is None:
        return
    mi = (
        MajorIncident.objects.filter(
            status__in=OPEN_MI_STATUSES, incident__affected_ci_id=incident.affected_ci_id
        )
        .exclude(incident_id=incident.pk)
        .select_related("incident")
        .order_by("declared_at")
        .first()
    )
    if mi is None:
        return
    try:
        with transaction.atomic():
            incident_services.link_incident(incident=incident, parent=mi.incident, actor=None)
    except DomainError as exc:
        logger.info("alert incident %s not linked to %s: %s", incident.number, mi.number, exc)


def _recovered(
    source: InboundSource, notification: Notification, incident: Incident
) -> tuple[str, Incident, str]:
    note = f"{source.name}: monitoring reports recovery ({notification.title})"
    major = governing_major_incident(incident)
    if major is not None:
        # An MI's incident follows its MI: recovery is a fact for the war room, not a close.
        incident_services.record(
            incident,
            TimelineKind.ALERT,
            f"{note}; the major incident stays open until its commander resolves it.",
            data={"source": source.name, "resolved": True},
            major_incident=major,
        )
        return InboundOutcome.NOTED, incident, ""
    try:
        with transaction.atomic():
            incident = incident_services.resolve_incident(
                incident=incident, actor=None, resolution_notes=note
            )
    except DomainError as exc:
        incident_services.record(
            incident, TimelineKind.ALERT, f"{note}; not resolved: {exc}",
            data={"source": source.name, "resolved": True},
        )  # fmt: skip
        return InboundOutcome.NOTED, incident, str(exc)
    return InboundOutcome.RESOLVED, incident, ""
