"""What the review document is pre-filled with, read from the MI: its timeline from the war-room
log (milestones marked, each row linking to its entry in the war room), and the facts the first
draft states (impact, roles, the initial assessment, the stakeholder updates sent, repeats on
the same service this quarter).

A handful of queries per MI, never one per row: the pages, the API and ``create_review`` use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.urls import reverse

from comms.models import StakeholderUpdate, UpdateStatus
from incidents.models import MajorIncident, MIStatus, RaciRole, TimelineKind
from incidents.selectors import active_roles, name_of
from warroom.models import AssessmentRevision

# The rows the review's timeline marks as milestones.
MILESTONE_KINDS = (
    TimelineKind.DECLARED,
    TimelineKind.MI_STATUS_CHANGED,
    TimelineKind.MILESTONE,
    TimelineKind.ESCALATED,
    TimelineKind.RESOLVED,
)


def timeline_rows(mi: MajorIncident) -> list[dict[str, Any]]:
    """The MI's log in order, as the review shows and freezes it. Each row: ``id``, ``at``
    (ISO 8601, UTC), ``kind``, ``label``, ``text``, ``milestone``, ``url`` (the entry in the war
    room), ``actor`` (a name, or ""). Nothing is left out: a review reads the whole log."""
    page = reverse("warroom:page", args=[mi.number])
    entries = mi.timeline.select_related("actor").order_by("created_at", "id")
    return [
        {
            "id": entry.pk,
            "at": entry.created_at.isoformat().replace("+00:00", "Z"),
            "kind": entry.kind,
            "label": entry.get_kind_display(),
            "text": entry.message,
            "milestone": entry.kind in MILESTONE_KINDS,
            "url": f"{page}#entry-{entry.pk}",
            "actor": name_of(entry.actor) if entry.actor else "",
        }
        for entry in entries
    ]


# --- Facts ----------------------------------------------------------------------------------------


@dataclass
class Facts:
    """What the MI's records say, for the pre-fill and the drafter."""

    number: str
    service: str
    priority: int
    summary: str
    impact_statement: str
    affected_users: int
    child_incidents: int
    started_at: datetime
    started_from: str  # "impact start" or "declaration"
    resolved_at: datetime | None
    detected_at: datetime | None
    declared_at: datetime
    roles: list[tuple[str, str]] = field(default_factory=list)  # (role label, name)
    assessment: AssessmentRevision | None = None
    updates: list[StakeholderUpdate] = field(default_factory=list)
    nth_this_quarter: int = 1

    @property
    def duration(self) -> timedelta | None:
        return self.resolved_at - self.started_at if self.resolved_at else None


def in_words(span: timedelta | None) -> str:
    """``2 hours 5 minutes``; ``under a minute``; "" for none."""
    if span is None:
        return ""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{n} {word}{'' if n == 1 else 's'}"
        for n, word in ((days, "day"), (hours, "hour"), (mins, "minute"))
        if n
    ]
    return " ".join(parts)


def clock(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _quarter_start(moment: datetime) -> datetime:
    month = 3 * ((moment.month - 1) // 3) + 1
    return moment.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_quarter(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 10
        else start.replace(month=start.month + 3)
    )


def nth_this_quarter(mi: MajorIncident) -> int:
    """Which MI on the same affected CI this is in its calendar quarter (UTC), counting those
    declared before it (and itself); cancelled ones do not count."""
    ci_id = mi.incident.affected_ci_id
    if ci_id is None:
        return 1
    start = _quarter_start(mi.declared_at.astimezone(UTC))
    return (
        MajorIncident.objects.filter(
            incident__affected_ci_id=ci_id,
            declared_at__gte=start,
            declared_at__lt=_next_quarter(start),
        )
        .exclude(status=MIStatus.CANCELLED)
        .filter(declared_at__lte=mi.declared_at)
        .count()
    )


def facts(mi: MajorIncident) -> Facts:
    """The MI's facts in six queries."""
    incident = mi.incident
    ci = incident.affected_ci
    started_at = mi.impact_started_at or mi.declared_at
    labels = dict(RaciRole.choices)
    return Facts(
        number=mi.number,
        service=ci.name if ci else "",
        priority=incident.priority,
        summary=mi.summary or incident.short_description,
        impact_statement=mi.impact_statement,
        affected_users=incident.affected_users or 0,
        child_incidents=incident.children.count(),
        started_at=started_at,
        started_from="impact start" if mi.impact_started_at else "declaration",
        resolved_at=mi.resolved_at,
        detected_at=mi.detected_at,
        declared_at=mi.declared_at,
        roles=[(str(labels.get(a.role, a.role)), name_of(a.user)) for a in active_roles(mi)],
        assessment=AssessmentRevision.objects.filter(major_incident=mi)
        .order_by("-revision")
        .first(),
        updates=list(
            StakeholderUpdate.objects.filter(major_incident=mi, status=UpdateStatus.SENT)
            .exclude(sent_at=None)
            .order_by("sent_at", "id")
        ),
        nth_this_quarter=nth_this_quarter(mi),
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def repeat_sentence(f: Facts) -> str:
    if f.nth_this_quarter <= 1 or not f.service:
        return ""
    return f"This is the {_ordinal(f.nth_this_quarter)} major incident on {f.service} this quarter."


def prefill(mi: MajorIncident) -> dict[str, Any]:
    """The review's first content, field by field; ``create_review`` applies it to blank
    fields only."""
    f = facts(mi)
    a = f.assessment
    summary = [f.summary]
    if f.impact_statement and f.impact_statement != f.summary:
        summary.append(f.impact_statement)
    if a is not None and a.affected_services:
        summary.append(f"Scope (initial assessment): {a.affected_services}")
    if a is not None and a.root_cause_hypothesis:
        confirmed = "confirmed" if a.root_cause_confirmed else "hypothesis"
        summary.append(f"Root cause ({confirmed}): {a.root_cause_hypothesis}")
    if repeat := repeat_sentence(f):
        summary.append(repeat)

    duration = in_words(f.duration)
    impact = [
        f"Affected users (CMDB): {f.affected_users:,}.",
        f"Child incidents: {f.child_incidents}.",
    ]
    if duration:
        impact.append(
            f"Duration: {duration}, from {f.started_from} at {clock(f.started_at)} to "
            f"resolution at {clock(f.resolved_at)}."
        )
    if a is not None and a.customer_symptoms:
        impact.append(f"Customer symptoms: {a.customer_symptoms}")
    if a is not None and a.affected_customers:
        impact.append(f"Affected customers: {a.affected_customers}")

    supporting = []
    if f.roles:
        supporting.append("Roles held:\n" + "\n".join(f"- {r}: {n}" for r, n in f.roles))
    if a is not None:
        lines = [
            (label, value)
            for label, value in (
                ("Affected services", a.affected_services),
                ("Affected customers", a.affected_customers),
                ("Revenue impact estimate", a.revenue_impact_estimate),
                ("SLA breach risk", a.sla_breach_risk),
                ("Customer symptoms", a.customer_symptoms),
                ("Root-cause hypothesis", a.root_cause_hypothesis),
            )
            if value
        ]
        supporting.append(
            f"Initial assessment (revision {a.revision}):\n"
            + "\n".join(f"- {label}: {value}" for label, value in lines)
        )
    if f.updates:
        supporting.append(
            "Stakeholder updates sent:\n"
            + "\n".join(
                f"- {clock(u.sent_at)} {u.get_update_type_display()}: {u.current_impact}"
                for u in f.updates
            )
        )
    cadence = (
        f"{len(f.updates)} stakeholder update(s) sent, the first at {clock(f.updates[0].sent_at)}."
        if f.updates
        else "No stakeholder update was sent."
    )
    return {
        "summary": "\n\n".join(summary),
        "impact": "\n".join(impact),
        "supporting_information": "\n\n".join(supporting),
        "communication_cadence": cadence,
        "customers_affected": f.affected_users or None,
        "support_tickets": f.child_incidents or None,
    }
