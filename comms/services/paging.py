"""Paging the on-call: PagerDuty Events API v2 and Opsgenie's Alert API, through the outbox, on
declaration, on each escalation step, and as the MI is acknowledged and resolved.

Every page is one outbox row per paging channel × event, keyed
``page:{channel}:{MI number}:{event}:{occasion}``, so a signal delivered twice pages once, a
failed page is retried with the outbox's backoff and shows in the admin's outbox. The events:

- ``trigger`` (occasion: the MI's cycle, 1 + the times it was reopened) on declaration and when a
  resolved MI is reopened (resolved → investigating): PagerDuty and Opsgenie open a new alert
  once the previous one was resolved;
- ``escalation`` (occasion: the step's id) on each escalation step: a repeated trigger on
  PagerDuty (merged into the open alert by its ``dedup_key``), a note on Opsgenie's alert;
- ``acknowledge`` (occasion: the cycle) when the MI first moves on from ``declared`` in a cycle
  (the IC is on it); the reopening move itself is not an acknowledgement: it pages;
- ``resolve`` (occasion: the cycle) when the MI is resolved, closed or cancelled.

Pages are ``in_order`` outbox messages: an acknowledge or a resolve waits while the trigger
before it is pending or failing (``outbox._wait_for_earlier``), so a provider never hears of an
acknowledgement for an alert it has not opened yet.

One ``dedup_key`` per MI (``mimdesk-MI0000042``) serves both providers (Opsgenie calls it the
alias), kept in ``ExternalRecord`` (channel ``pagerduty``/``opsgenie``). A security MI's page says
nothing beyond its number and priority: the page goes to a provider outside MIM Desk and to
phones' lock screens.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.models import (
    OPEN_MI_STATUSES,
    EscalationStep,
    MajorIncident,
    MIStatus,
    TimelineEntry,
    TimelineKind,
)
from incidents.services import record

from .. import channels
from ..models import ChannelName, ExternalRecord, OutboxMessage
from ..selectors import messages
from . import outbox
from .outbox import IN_ORDER, NewMessage, enqueue, idempotency_key

logger = logging.getLogger(__name__)

PAGING_CHANNELS = (ChannelName.PAGERDUTY, ChannelName.OPSGENIE)
PURPOSES = {
    "trigger": "page_trigger",
    "escalation": "page_escalation",
    "acknowledge": "page_acknowledge",
    "resolve": "page_resolve",
}
OVER = (MIStatus.RESOLVED, MIStatus.CLOSED, MIStatus.CANCELLED)
PROVIDER_NAMES: dict[str, str] = {
    ChannelName.PAGERDUTY: "PagerDuty",
    ChannelName.OPSGENIE: "Opsgenie",
}
EVENT_LABELS = {
    "trigger": "paged",
    "escalation": "paged again for an escalation step",
    "acknowledge": "acknowledged the page",
    "resolve": "resolved the page",
}


def dedup_key(mi: MajorIncident) -> str:
    """The MI's one key on every paging provider, stable for its life."""
    return f"mimdesk-{mi.number}"


def is_secret(mi: MajorIncident) -> bool:
    return bool(mi.is_security or mi.incident.is_security)


def cycle(mi: MajorIncident) -> int:
    """1, plus once for every time the resolved MI was reopened (its timeline's status rows)."""
    reopened = TimelineEntry.objects.filter(
        major_incident=mi,
        kind=TimelineKind.MI_STATUS_CHANGED,
        data__from=MIStatus.RESOLVED,
        data__to=MIStatus.INVESTIGATING,
    ).count()
    return 1 + reopened


def _mi(major_incident_id: int) -> MajorIncident | None:
    return (
        MajorIncident.objects.select_related("incident__affected_ci")
        .filter(pk=major_incident_id)
        .first()
    )


def page_payload(
    mi: MajorIncident, event: str, *, step: EscalationStep | None = None, reason: str = ""
) -> dict[str, Any]:
    """What the channels turn into a provider's request: neutral of PagerDuty and Opsgenie.

    A security MI's page carries its number and priority (and the war room's link, which says
    no more), never its description, service, impact or escalation reason.
    """
    incident = mi.incident
    priority = incident.priority
    now = timezone.now()
    base: dict[str, Any] = {
        IN_ORDER: True,
        "event": event,
        "dedup_key": dedup_key(mi),
        "mi": {
            "number": mi.number,
            "priority": priority,
            "status": mi.status,
            "url": messages.war_room_url(mi),
        },
        "source": "mimdesk",
        "timestamp": (mi.declared_at if event == "trigger" else now).isoformat(),
        "class": "major_incident",
    }
    step_text = ""
    if step is not None:
        base["step"] = {"id": step.pk, "order": step.order}
        step_text = f"escalation step {step.order}"
    if is_secret(mi):
        base["summary"] = f"{mi.number}: security major incident (P{priority})"
        base["description"] = base["summary"]
        base["details"] = {"major_incident": mi.number, "priority": f"P{priority}"}
        if step is not None:
            base["details"]["escalation_step"] = step.order
            base["note"] = f"{mi.number}: {step_text}"
        base["tags"] = ["mimdesk", "major-incident"]
        return base

    ci = incident.affected_ci
    base["summary"] = f"{mi.number} (P{priority}): {incident.short_description}"
    base["description"] = mi.impact_statement or incident.short_description
    base["component"] = ci.name if ci is not None else ""
    base["group"] = (ci.owner_group if ci is not None else "") or incident.assignment_group
    details: dict[str, Any] = {
        "major_incident": mi.number,
        "incident": incident.number,
        "priority": f"P{priority}",
        "status": mi.status,
        "impact": mi.impact_statement,
        "affected_ci": base["component"],
        "war_room": base["mi"]["url"],
    }
    if step is not None:
        details.update(
            escalation_step=step.order,
            escalation_target=step.target_label,
            escalation_policy=step.policy.name,
            escalation_reason=reason,
        )
        base["note"] = f"{mi.number}: {step_text}, to {step.target_label}" + (
            f" ({reason})" if reason else ""
        )
    base["details"] = {k: v for k, v in details.items() if v not in (None, "")}
    base["tags"] = ["mimdesk", "major-incident", f"P{priority}"]
    return base


def _page(
    mi: MajorIncident,
    event: str,
    occasion: object,
    *,
    step: EscalationStep | None = None,
    reason: str = "",
) -> list[int]:
    """Enqueue the page on every paging channel switched on; a page enqueued before is kept."""
    on = [c for c in PAGING_CHANNELS if channels.enabled(c)]
    if not on:
        return []
    payload = page_payload(mi, event, step=step, reason=reason)
    rows = [
        NewMessage(
            channel=channel,
            recipient=payload["dedup_key"],
            key=idempotency_key("page", channel, mi.number, event, occasion),
            purpose=PURPOSES[event],
            subject=payload["summary"],
            payload=payload,
            major_incident_id=mi.pk,
        )
        for channel in on
    ]
    with transaction.atomic():
        for channel in on:
            ExternalRecord.objects.get_or_create(
                major_incident=mi, channel=channel, defaults={"external_id": payload["dedup_key"]}
            )
        return enqueue(rows)


def _has_trigger(mi: MajorIncident, n: int) -> bool:
    """Was cycle ``n``'s trigger enqueued (a page to acknowledge or resolve)?"""
    keys = [idempotency_key("page", c, mi.number, "trigger", n) for c in PAGING_CHANNELS]
    return OutboxMessage.objects.filter(idempotency_key__in=keys).exists()


def major_incident_declared(major_incident_id: int) -> list[int]:
    """Trigger a page for a newly declared MI (each configured paging channel)."""
    mi = _mi(major_incident_id)
    if mi is None or mi.status in OVER:
        return []
    return _page(mi, "trigger", cycle(mi))


def escalation_triggered(major_incident_id: int, step_id: int) -> list[int]:
    """Page again for an escalation step, the step (and, but for a security MI, its target and
    reason) in the page."""
    mi = _mi(major_incident_id)
    step = EscalationStep.objects.select_related("policy").filter(pk=step_id).first()
    if mi is None or step is None or mi.status not in OPEN_MI_STATUSES:
        return []
    firing = (
        TimelineEntry.objects.filter(
            major_incident=mi, kind=TimelineKind.ESCALATED, data__target=step.target_label
        )
        .order_by("-id")
        .first()
    )
    return _page(mi, "escalation", step.pk, step=step, reason=firing.message if firing else "")


def major_incident_state_changed(
    major_incident_id: int, from_status: str, to_status: str
) -> list[int]:
    """Acknowledge the page when the MI is being worked, resolve it when the MI is resolved,
    page again when a resolved MI is reopened."""
    mi = _mi(major_incident_id)
    if mi is None:
        return []
    n = cycle(mi)
    if from_status == MIStatus.RESOLVED and to_status == MIStatus.INVESTIGATING:
        return _page(mi, "trigger", n)
    if not _has_trigger(mi, n):
        return []  # nothing was paged (paging off at the time): nothing to acknowledge
    if to_status in OVER:
        return _page(mi, "resolve", n)
    if to_status in OPEN_MI_STATUSES and to_status != MIStatus.DECLARED:
        return _page(mi, "acknowledge", n)
    return []


def page_sent(message: OutboxMessage) -> None:
    """The provider took the page: one ``paged`` row in the MI's timeline (the outbox calls this
    once, from the worker that won the claim; the lookup makes a second call harmless)."""
    mi = _mi(message.major_incident_id) if message.major_incident_id else None
    if mi is None:
        return
    payload = message.payload or {}
    event = payload.get("event", "")
    provider = PROVIDER_NAMES.get(message.channel, message.channel)
    with transaction.atomic():
        if TimelineEntry.objects.filter(
            major_incident=mi, kind=TimelineKind.PAGED, data__outbox_id=message.pk
        ).exists():
            return
        step = payload.get("step") or {}
        what = EVENT_LABELS.get(event, event)
        if step:
            what += f" ({step.get('order')})"
        record(
            mi.incident,
            TimelineKind.PAGED,
            f"{provider}: {what} for {mi.number}",
            major_incident=mi,
            data={
                "channel": message.channel,
                "event": event,
                "dedup_key": payload.get("dedup_key", ""),
                "outbox_id": message.pk,
                "provider_id": message.provider_message_id,
            },
        )


outbox.AFTER_SENT.update(dict.fromkeys(PURPOSES.values(), page_sent))
