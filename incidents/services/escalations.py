"""Escalation policies: each due step fires once per major incident."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import events
from ..models import (
    OPEN_MI_STATUSES,
    EscalationFiring,
    EscalationPolicy,
    EscalationStep,
    EscalationTrigger,
    Incident,
    MajorIncident,
    TimelineKind,
)
from ..selectors.properties import get_property
from .common import record


def _ticket_volume_exceeded(mi: MajorIncident, now: datetime) -> str | None:
    """Children in the last hour over factor × the affected CI's normal hourly incident rate.

    Normal is the CI's incidents per hour over the four weeks before the MI was declared, floored
    at one an hour so that a quiet service does not escalate on its second ticket.
    """
    factor = int(get_property("ticket_volume_escalation_factor"))
    recent = mi.incident.children.filter(created_at__gte=now - timedelta(hours=1)).count()
    ci_id = mi.incident.affected_ci_id
    normal = 0.0
    if ci_id is not None:
        weeks = Incident.objects.filter(
            affected_ci_id=ci_id,
            created_at__gte=mi.declared_at - timedelta(days=28),
            created_at__lt=mi.declared_at,
        ).count()
        normal = weeks / (28 * 24)
    baseline = max(normal, 1.0)
    if recent > factor * baseline:
        return (
            f"{recent} linked tickets in the last hour, over {factor} × normal ({baseline:.2f}/h)"
        )
    return None


def _triggered_at(
    policy: EscalationPolicy, mi: MajorIncident, now: datetime, fired: dict[int, EscalationFiring]
) -> tuple[datetime, str] | None:
    """When the policy's condition began to hold for this MI, and why; None if it does not."""
    if policy.trigger == EscalationTrigger.OPEN_TOO_LONG:
        hours = int(get_property("escalation_resolution_hours"))
        due = mi.declared_at + timedelta(hours=hours)
        return (due, f"open longer than {hours} h") if now >= due else None
    if policy.trigger == EscalationTrigger.SECURITY:
        if not mi.is_security:
            return None
        hours = int(get_property("security_breach_notification_hours"))
        deadline = mi.declared_at + timedelta(hours=hours)
        return (
            mi.declared_at,
            f"security major incident; breach notification due by {deadline:%Y-%m-%d %H:%M} UTC",
        )
    # Conditions without a timestamp of their own start when first seen; later steps count
    # from the first firing, which the database remembers.
    first = min((f.triggered_at for f in fired.values()), default=None)
    if policy.trigger == EscalationTrigger.MEDIA_ATTENTION:
        if not mi.media_attention:
            return None
        return first or now, "media attention"
    if policy.trigger == EscalationTrigger.TICKET_VOLUME:
        if first is not None:
            return first, "linked-ticket volume"
        why = _ticket_volume_exceeded(mi, now)
        return (now, why) if why else None
    return None


def evaluate_escalations(*, now: datetime | None = None) -> list[EscalationFiring]:
    """Fire every escalation step that is due, each once per MI. Safe to run twice at once."""
    now = now or timezone.now()
    policies = list(EscalationPolicy.objects.filter(enabled=True).prefetch_related("steps"))
    if not policies:
        return []
    fired_now: list[EscalationFiring] = []
    mis = MajorIncident.objects.filter(status__in=OPEN_MI_STATUSES).select_related("incident")
    for mi in mis:
        done: dict[int, EscalationFiring] = {
            f.step_id: f for f in EscalationFiring.objects.filter(major_incident=mi)
        }
        for policy in policies:
            steps = list(policy.steps.all())
            fired = {s.pk: done[s.pk] for s in steps if s.pk in done}
            start = _triggered_at(policy, mi, now, fired)
            if start is None:
                continue
            began, why = start
            for step in steps:
                if step.pk in done or now < began + timedelta(minutes=step.delay_minutes):
                    continue
                firing = _fire(mi, step, began, why, now)
                if firing is not None:
                    fired_now.append(firing)
    return fired_now


def _fire(
    mi: MajorIncident, step: EscalationStep, began: datetime, why: str, now: datetime
) -> EscalationFiring | None:
    try:
        with transaction.atomic():
            # The unique (MI, step) pair claims the firing: a second process gets IntegrityError.
            firing = EscalationFiring.objects.create(
                major_incident=mi, step=step, triggered_at=began, fired_at=now
            )
            record(
                mi.incident,
                TimelineKind.ESCALATED,
                f"Escalated to {step.target_label} ({step.policy.name}: {why})",
                major_incident=mi,
                data={
                    "policy": step.policy.trigger,
                    "step": step.order,
                    "target": step.target_label,
                },
            )
            events.send_after_commit(
                events.escalation_triggered,
                major_incident_id=mi.pk,
                step_id=step.pk,
                policy_trigger=step.policy.trigger,
                target_label=step.target_label,
                target_role=step.target_role,
                target_group_id=step.target_group_id,
            )
            return firing
    except IntegrityError:
        return None
