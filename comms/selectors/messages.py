"""What a message says: the MI's state as template context, the template for an update type and
channel, the rendered four parts, and the payload every channel formats."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.urls import reverse
from django.utils import timezone

from incidents import selectors as incident_selectors
from incidents.errors import DomainError
from incidents.models import MajorIncident, MIStatus, TimelineKind
from incidents.selectors import get_property

from ..models import CommsState, MessageTemplate, StakeholderUpdate, UpdateStatus

STATUS_LABELS: dict[str, str] = {
    MIStatus.DECLARED: "Investigating",
    MIStatus.INVESTIGATING: "Investigating",
    MIStatus.IDENTIFIED: "Identified",
    MIStatus.MONITORING: "Monitoring",
    MIStatus.RESOLVED: "Resolved",
    MIStatus.CLOSED: "Resolved",
    MIStatus.CANCELLED: "Cancelled",
}
STATUS_PHRASES: dict[str, str] = {
    MIStatus.DECLARED: "investigating the cause",
    MIStatus.INVESTIGATING: "investigating the cause",
    MIStatus.IDENTIFIED: "working on a fix for the identified cause",
    MIStatus.MONITORING: "monitoring the fix",
    MIStatus.RESOLVED: "done: the incident is resolved",
    MIStatus.CLOSED: "done: the incident is closed",
    MIStatus.CANCELLED: "done: the incident was cancelled",
}
# Plain text, no HTML escaping: channels format (and escape) the parts for their medium.
_ENGINE = Engine(autoescape=False)


@dataclass
class Parts:
    subject: str
    current_impact: str
    current_action: str
    user_action: str
    body: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def clock(moment: datetime | None) -> str:
    """A time as messages say it: "09:30 UTC" today, else "2025-03-03 09:30 UTC"."""
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    if moment.date() == timezone.now().astimezone(UTC).date():
        return f"{moment:%H:%M} UTC"
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def next_update_label(payload: dict[str, Any]) -> str:
    """A payload's ``next_update_at`` (ISO text) as messages say it; "" when there is none."""
    value = payload.get("next_update_at")
    if not value:
        return ""
    try:
        return clock(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return str(value)


def duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def war_room_url(mi: MajorIncident) -> str:
    return settings.MIM_BASE_URL.rstrip("/") + reverse("warroom:page", args=[mi.number])


def security_templates(mi: MajorIncident) -> bool:
    """A security MI speaks in its security-safe templates until its investigation is complete."""
    if not mi.is_security:
        return False
    state = CommsState.objects.filter(major_incident=mi).only("investigation_completed_at").first()
    return state is None or state.investigation_completed_at is None


def latest_command_update(mi: MajorIncident) -> str:
    entry = (
        incident_selectors.mi_timeline(mi, newest_first=True)
        .filter(kind=TimelineKind.COMMAND_UPDATE, major_incident=mi)
        .first()
    )
    return entry.message if entry else ""


def latest_public_update(mi: MajorIncident) -> StakeholderUpdate | None:
    return (
        StakeholderUpdate.objects.filter(
            major_incident=mi, status=UpdateStatus.SENT, is_public=True
        )
        .order_by("-sent_at", "-id")
        .first()
    )


def mi_context(mi: MajorIncident, *, now: datetime | None = None, **extra: Any) -> dict[str, Any]:
    """Everything a template may say about the MI, as plain values."""
    now = now or timezone.now()
    incident = mi.incident
    ci = incident.affected_ci
    service = ci.name if ci else incident.short_description
    secure = security_templates(mi)
    commander = incident_selectors.current_commander(mi)
    public = latest_public_update(mi)
    next_due = mi.next_update_due_at
    cadence = get_property("major_incident_update_cadence_minutes")
    context: dict[str, Any] = {
        "mi": {"number": mi.number, "summary": mi.summary, "status": mi.status},
        "number": mi.number,
        "service": service,
        "summary": mi.summary or incident.short_description,
        "impact": mi.impact_statement,
        "public_impact": (
            f"Some users may be unable to use {service}." if secure else mi.impact_statement
        ),
        # "48,210", or "" when nobody is counted (templates test it with {% if %}).
        "affected_users": f"{incident.affected_users:,}" if incident.affected_users else "",
        "status": mi.status,
        "status_label": STATUS_LABELS.get(mi.status, mi.status),
        "status_phrase": STATUS_PHRASES.get(mi.status, mi.status),
        "declared_at": clock(mi.declared_at),
        "resolved_at": clock(mi.resolved_at),
        "next_update_at": clock(next_due),
        "duration": duration((mi.resolved_at or now) - mi.declared_at),
        "commander": commander.get_username() if commander else "not assigned",
        "latest_command_update": "" if secure else latest_command_update(mi),
        "latest_public_action": public.current_action if public else "",
        "war_room_url": war_room_url(mi),
        "recovery_hours": get_property("recovery_monitoring_hours"),
        "breach_deadline": clock(
            mi.declared_at + timedelta(hours=get_property("security_breach_notification_hours"))
        ),
        "user_action_default": (
            f"No action needed; the next update follows by {clock(next_due)}."
            if next_due
            else f"No action needed; updates follow every {cadence} minutes."
        ),
        "is_security": mi.is_security,
        "security_templates": secure,
    }
    context.update(extra)
    return context


def template_for(
    update_type: str, channel: str = "", *, security: bool = False
) -> MessageTemplate | None:
    """The channel's own template, else the one for every channel; for a security MI only a
    security-safe one (never falling back to one that may carry technical detail)."""
    rows = {
        (t.channel, t.security_safe): t
        for t in MessageTemplate.objects.filter(update_type=update_type, channel__in=[channel, ""])
    }
    if security:
        return rows.get((channel, True)) or rows.get(("", True))
    return rows.get((channel, False)) or rows.get(("", False))


def render_text(text: str, context: dict[str, Any], *, what: str = "template") -> str:
    try:
        return _ENGINE.from_string(text).render(Context(context, autoescape=False)).strip()
    except TemplateSyntaxError as exc:
        raise DomainError(f"The {what} does not render: {exc}") from exc


def render(template: MessageTemplate, context: dict[str, Any]) -> Parts:
    name = str(template)
    return Parts(
        subject=render_text(template.subject, context, what=name)[:300],
        current_impact=render_text(template.current_impact, context, what=name),
        current_action=render_text(template.current_action, context, what=name),
        user_action=render_text(template.user_action, context, what=name),
        body=render_text(template.body, context, what=name) if template.body else "",
    )


def text_of(parts: Parts, next_update_at: datetime | None) -> str:
    """The four parts as one plain text, the form email, SNS and chat share."""
    lines = [
        f"Current impact: {parts.current_impact}",
        f"What we are doing: {parts.current_action}",
        f"What you should do: {parts.user_action}",
    ]
    if next_update_at:
        lines.append(f"Next update: {clock(next_update_at)}")
    if parts.body:
        lines += ["", parts.body]
    return "\n".join(lines)


def payload(
    mi: MajorIncident,
    *,
    update_type: str,
    parts: Parts,
    next_update_at: datetime | None = None,
    automatic: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """What the outbox stores and every channel formats."""
    return {
        "update_type": update_type,
        "subject": parts.subject,
        "text": text_of(parts, next_update_at),
        "parts": parts.as_dict(),
        "next_update_at": next_update_at.isoformat() if next_update_at else None,
        "automatic": automatic,
        "mi": {
            "number": mi.number,
            "status": mi.status,
            "status_label": STATUS_LABELS.get(mi.status, mi.status),
            "is_security": mi.is_security,
            "url": war_room_url(mi),
            "declared_at": mi.declared_at.isoformat(),
        },
        **extra,
    }
