"""Escalation policies: each due step fires once per major incident."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Func, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
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
from ..selectors.cmdb import ReachedFrom
from ..selectors.properties import get_property
from .common import record


def _with_ticket_volume(mis: QuerySet[MajorIncident], now: datetime) -> QuerySet[MajorIncident]:
    """Annotate what the ticket-volume policy needs, for every MI in the one query.

    ``recent_linked``: the incidents linked to the MI logged in the last hour, each counted once
    however it is linked: a child of the MI's incident (linked by hand, or by a monitoring
    webhook, which links an alert on an open MI's CI as a child), or logged since the declaration
    on the MI's affected CI or on a CI that depends on it (the CMDB walk, in SQL). The MI's own
    incident is not one of them. ``normal_tickets``: the affected CI's incidents in the four
    weeks before the MI was declared.
    """
    by_ci = Q(
        created_at__gte=OuterRef("declared_at"),
        affected_ci_id__in=ReachedFrom(OuterRef("incident__affected_ci_id")),
    )
    recent = (
        Incident.objects.filter(created_at__gte=now - timedelta(hours=1))
        .filter(Q(parent_id=OuterRef("incident_id")) | by_ci)
        .exclude(pk=OuterRef("incident_id"))
        .order_by()
        # COUNT as a plain function: one row for the whole subquery, no GROUP BY.
        .annotate(n=Func("pk", function="COUNT"))
        .values("n")[:1]
    )
    normal = (
        Incident.objects.filter(
            affected_ci_id=OuterRef("incident__affected_ci_id"),
            created_at__gte=OuterRef("declared_at") - timedelta(days=_NORMAL_DAYS),
            created_at__lt=OuterRef("declared_at"),
        )
        .order_by()
        .values("affected_ci_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return mis.annotate(
        recent_linked=Coalesce(Subquery(recent), 0),
        normal_tickets=Coalesce(Subquery(normal), 0),
    )


_NORMAL_DAYS = 28


def _ticket_volume_exceeded(mi: MajorIncident) -> str | None:
    """Linked incidents in the last hour over factor × the affected CI's normal hourly rate.

    Normal is the CI's incidents per hour over the four weeks before the MI was declared, floored
    at one an hour so that a quiet service does not escalate on its second ticket. The counts
    come annotated by ``_with_ticket_volume``.
    """
    factor = int(get_property("ticket_volume_escalation_factor"))
    recent: int = getattr(mi, "recent_linked", 0)
    normal = (
        getattr(mi, "normal_tickets", 0) / (_NORMAL_DAYS * 24)
        if mi.incident.affected_ci_id is not None
        else 0.0
    )
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
            recent: int = getattr(mi, "recent_linked", 0)
            return first, f"linked-ticket volume, {recent} linked tickets in the last hour"
        why = _ticket_volume_exceeded(mi)
        return (now, why) if why else None
    return None


def evaluate_escalations(*, now: datetime | None = None) -> list[EscalationFiring]:
    """Fire every escalation step that is due, each once per MI. Safe to run twice at once."""
    now = now or timezone.now()
    policies = list(EscalationPolicy.objects.filter(enabled=True).prefetch_related("steps"))
    if not policies:
        return []
    fired_now: list[EscalationFiring] = []
    mis: QuerySet[MajorIncident] = MajorIncident.objects.filter(
        status__in=OPEN_MI_STATUSES
    ).select_related("incident")
    if any(p.trigger == EscalationTrigger.TICKET_VOLUME for p in policies):
        mis = _with_ticket_volume(mis, now)
    open_mis = list(mis)
    # Every open MI's firings in one query, not one per MI.
    done_by_mi: dict[int, dict[int, EscalationFiring]] = defaultdict(dict)
    for f in EscalationFiring.objects.filter(major_incident__in=[mi.pk for mi in open_mis]):
        done_by_mi[f.major_incident_id][f.step_id] = f
    for mi in open_mis:
        done = done_by_mi[mi.pk]
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
