"""The optional push to an Atlassian Statuspage page (REST API v1, ``Authorization: OAuth <key>``).

The MI's first public update opens an incident on the page (``POST /pages/{page}/incidents``); the
incident's id is kept in ``ExternalRecord(channel="statuspage")`` and every later update goes to
it (``PATCH /pages/{page}/incidents/{id}``). The MI's state names the incident's status
(investigating, identified, monitoring, resolved) and the components of its affected services
(``STATUSPAGE_COMPONENTS``: CI name → component id) are set with it.

The record is also the claim on the creation: of two updates in flight at once, only the message
that inserted the record opens the incident; the other fails temporarily and, retried, updates it.
An update older than the last one pushed (a retry overtaken by a newer update) is not pushed, so the
page never steps back to an older state.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import ConfigurationItem, MajorIncident, MIStatus

from ..models import ExternalRecord, OutboxMessage
from ..selectors import audience
from . import http
from .base import Channel, Sent, TransportError

INCIDENT_STATUS: dict[str, str] = {
    MIStatus.DECLARED: "investigating",
    MIStatus.INVESTIGATING: "investigating",
    MIStatus.IDENTIFIED: "identified",
    MIStatus.MONITORING: "monitoring",
    MIStatus.RESOLVED: "resolved",
    MIStatus.CLOSED: "resolved",
    MIStatus.CANCELLED: "resolved",
}
OVER = {MIStatus.RESOLVED, MIStatus.CLOSED, MIStatus.CANCELLED}


def component_status(mi_status: str, priority: int | None) -> str:
    """What the affected services' components show: a P1 live is a major outage, a lower one a
    partial outage; while the fix is watched, degraded; once it is over, operational."""
    if mi_status in OVER:
        return "operational"
    if mi_status == MIStatus.MONITORING:
        return "degraded_performance"
    return "major_outage" if priority == 1 else "partial_outage"


def components_for(mi: MajorIncident, mi_status: str) -> dict[str, str]:
    """Component id → status for the MI's affected CI and the services depending on it."""
    mapping: dict[str, str] = settings.STATUSPAGE_COMPONENTS
    if not mapping:
        return {}
    names = ConfigurationItem.objects.filter(pk__in=audience.reached_ci_ids(mi)).values_list(
        "name", flat=True
    )
    status = component_status(mi_status, mi.incident.priority)
    return {mapping[name]: status for name in sorted(names) if name in mapping}


class StatuspageChannel(Channel):
    name = "statuspage"

    def off_reason(self) -> str:
        if not settings.STATUSPAGE_API_KEY:
            return "STATUSPAGE_API_KEY is unset"
        return "" if settings.STATUSPAGE_PAGE_ID else "STATUSPAGE_PAGE_ID is unset"

    def _url(self, path: str) -> str:
        return (
            f"{settings.STATUSPAGE_API_URL.rstrip('/')}/pages/{settings.STATUSPAGE_PAGE_ID}/{path}"
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"OAuth {settings.STATUSPAGE_API_KEY}"}

    def send(self, message: OutboxMessage) -> Sent:
        mi = (
            MajorIncident.objects.select_related("incident")
            .filter(pk=message.major_incident_id)
            .first()
        )
        if mi is None:
            raise TransportError("the message names no major incident", permanent=True)
        payload = message.payload or {}
        mi_status = (payload.get("mi") or {}).get("status") or mi.status
        update_id = payload.get("update_id")
        components = components_for(mi, mi_status)
        incident: dict[str, Any] = {
            "status": INCIDENT_STATUS.get(mi_status, "investigating"),
            "body": payload.get("text", ""),
            "deliver_notifications": True,
        }
        if components:
            incident["component_ids"] = sorted(components)
            incident["components"] = components

        record = self._claim(mi, message)
        if record.external_id:
            last = record.data.get("update_id")
            if update_id is not None and last is not None and int(update_id) < int(last):
                return Sent(provider_message_id=f"{record.external_id}:superseded")
            response = http.request(
                "PATCH",
                self._url(f"incidents/{record.external_id}"),
                what="Statuspage incident update",
                json={"incident": incident},
                headers=self._headers(),
            )
        else:
            incident["name"] = (payload.get("subject") or mi.number)[:255]
            try:
                response = http.request(
                    "POST",
                    self._url("incidents"),
                    what="Statuspage incident create",
                    json={"incident": incident},
                    headers=self._headers(),
                )
            except TransportError:
                # Let go of the claim: the retry, or the next update, opens the incident.
                ExternalRecord.objects.filter(pk=record.pk, external_id="").delete()
                raise
        try:
            external_id = str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TransportError(f"Statuspage answered without an incident id: {exc}") from exc
        data = {**record.data, "status": incident["status"]}
        if update_id is not None:
            data["update_id"] = max(int(update_id), int(data.get("update_id") or 0))
        data.pop("claimed_by", None)
        data.pop("claimed_at", None)
        ExternalRecord.objects.filter(pk=record.pk).update(
            external_id=external_id, data=data, updated_at=timezone.now()
        )
        return Sent(provider_message_id=external_id)

    def _claim(self, mi: MajorIncident, message: OutboxMessage) -> ExternalRecord:
        now = timezone.now()
        try:
            with transaction.atomic():
                return ExternalRecord.objects.create(
                    major_incident=mi,
                    channel=self.name,
                    data={"claimed_by": message.pk, "claimed_at": now.isoformat()},
                )
        except IntegrityError:
            pass
        record = ExternalRecord.objects.get(major_incident=mi, channel=self.name)
        if record.external_id or record.data.get("claimed_by") == message.pk:
            return record
        # Another message is opening the incident; after the outbox's lease it counts as lost.
        lease = timedelta(seconds=settings.COMMS_SENDING_LEASE_SECONDS)
        if record.updated_at < now - lease:
            taken = ExternalRecord.objects.filter(
                pk=record.pk, external_id="", updated_at=record.updated_at
            ).update(data={"claimed_by": message.pk, "claimed_at": now.isoformat()}, updated_at=now)
            if taken == 1:
                record.refresh_from_db()
                return record
        raise TransportError("the Statuspage incident is being opened by another message")
