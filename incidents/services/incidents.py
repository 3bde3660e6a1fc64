"""Incidents: logging, updating, acknowledging, resolving and linking them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import events
from ..errors import Conflict, DomainError, NotAllowed
from ..models import (
    OPEN_MI_STATUSES,
    ConfigurationItem,
    Incident,
    IncidentState,
    MajorIncident,
    MIStatus,
    TimelineKind,
)
from ..selectors import cmdb
from ..selectors.access import (
    can_manage,
    can_override_priority,
)
from ..selectors.actors import Actor, name_of, user_of
from ..selectors.majors import governing_major_incident
from .common import lock_incident, lock_incidents, record
from .enqueue import evaluate_rules_after_commit

# ITIL impact x urgency -> priority (DESIGN, "Priority matrix").
PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (1, 1): 1, (1, 2): 2, (2, 1): 2,
    (1, 3): 3, (2, 2): 3, (3, 1): 3,
    (2, 3): 4, (3, 2): 4,
    (3, 3): 5,
}  # fmt: skip


def compute_priority(impact: int, urgency: int) -> int:
    try:
        return PRIORITY_MATRIX[(int(impact), int(urgency))]
    except (KeyError, TypeError, ValueError):
        raise DomainError("impact and urgency must each be 1, 2 or 3", field="impact") from None


_STATE_MOVES: dict[str, set[str]] = {
    IncidentState.NEW: {IncidentState.IN_PROGRESS, IncidentState.ON_HOLD, IncidentState.CANCELLED},
    IncidentState.IN_PROGRESS: {IncidentState.ON_HOLD, IncidentState.CANCELLED},
    IncidentState.ON_HOLD: {IncidentState.IN_PROGRESS, IncidentState.CANCELLED},
    IncidentState.RESOLVED: {IncidentState.IN_PROGRESS, IncidentState.CLOSED},
    IncidentState.CLOSED: set(),
    IncidentState.CANCELLED: set(),
}

UPDATABLE_FIELDS = frozenset(
    {
        "short_description", "description", "caller", "channel", "affected_ci", "impact",
        "urgency", "priority", "state", "assignment_group", "assigned_to", "is_security",
        "impact_started_at", "detected_at", "problem",
    }
)  # fmt: skip


def _check_milestones(incident: Incident) -> None:
    if (
        incident.impact_started_at
        and incident.detected_at
        and incident.detected_at < incident.impact_started_at
    ):
        raise DomainError("detected_at must not be before impact_started_at", field="detected_at")
    now = timezone.now()
    for name in ("impact_started_at", "detected_at"):
        moment: datetime | None = getattr(incident, name)
        if moment is not None and moment > now + timedelta(minutes=5):
            raise DomainError(f"{name} must not be in the future", field=name)


def check_incident(incident: Incident) -> None:
    """The rules an incident's own fields must meet before it is saved; raises ``DomainError``.

    Forms call it to show the error next to the field instead of failing when the service saves.
    """
    if incident.parent_id is not None and incident.parent:
        _check_parent(incident, incident.parent)
    _check_milestones(incident)


def _check_parent(incident: Incident, parent: Incident) -> None:
    """``link_incident``'s rules about the parent, also for an incident logged with one."""
    if parent.pk == incident.pk:
        raise DomainError("an incident cannot be its own parent", field="parent")
    if parent.parent_id is not None:
        raise Conflict(
            f"{parent.number} is itself a child of {Incident(pk=parent.parent_id).number}; "
            "link to that one",
            field="parent",
        )
    if parent.state == IncidentState.CANCELLED:
        raise Conflict(f"{parent.number} is cancelled", field="parent")


# --- The incident of a major incident -------------------------------------------------------------


def _refuse_under_mi(incident: Incident, mi: MajorIncident, what: str, instead: str) -> Conflict:
    return Conflict(
        f"{incident.number} is the incident of major incident {mi.number} ({mi.status}), whose "
        f"lifecycle it follows: it cannot be {what} on its own; {instead}"
    )


def _state_move_refusal(incident: Incident, mi: MajorIncident, to: str) -> Conflict:
    if to == IncidentState.RESOLVED:
        if mi.status == MIStatus.RESOLVED:
            return _refuse_under_mi(incident, mi, "resolved", "it was resolved with the MI")
        return _refuse_under_mi(incident, mi, "resolved", f"resolve {mi.number}, which resolves it")
    if to == IncidentState.CANCELLED:
        return _refuse_under_mi(
            incident, mi, "cancelled", f"cancel {mi.number} first if it was declared in error"
        )
    if to == IncidentState.CLOSED:
        return _refuse_under_mi(incident, mi, "closed", f"it is closed when {mi.number} is closed")
    if mi.status == MIStatus.RESOLVED:
        return _refuse_under_mi(
            incident,
            mi,
            f"moved to {to}",
            f"reopen {mi.number} (→ investigating), which reopens it",
        )
    return _refuse_under_mi(
        incident, mi, f"moved to {to}", "it stays in progress until the MI is resolved"
    )


def _affected_users_of(ci: ConfigurationItem | None) -> int:
    return cmdb.affected_users(ci.pk) if ci is not None else 0


@transaction.atomic
def create_incident(
    *,
    actor: Actor | None,
    short_description: str,
    priority: int | None = None,
    **fields: Any,
) -> Incident:
    """Log a new incident: priority from the matrix (or a manager's choice), users from the CMDB."""
    unknown = set(fields) - UPDATABLE_FIELDS - {"parent"}
    if unknown:
        raise DomainError(f"unknown fields: {', '.join(sorted(unknown))}")
    if not short_description or not short_description.strip():
        raise DomainError("a short description is required", field="short_description")
    state = fields.pop("state", None) or IncidentState.NEW
    if state != IncidentState.NEW:
        # Every other state is reached by an action that records it (acknowledge, resolve, …).
        raise DomainError("a new incident starts in state 'new'", field="state")
    # Linked after it is saved, through link_incident: its rules, its rows on both timelines.
    parent: Incident | None = fields.pop("parent", None)
    incident = Incident(short_description=short_description.strip(), **fields)
    incident.created_by = user_of(actor)
    if priority is not None:
        if not can_override_priority(actor):
            raise NotAllowed("only an ITSM manager or super admin may set the priority by hand")
        incident.priority = priority
        incident.priority_is_manual = True
    else:
        incident.priority = compute_priority(incident.impact, incident.urgency)
    if incident.detected_at is None:
        incident.detected_at = incident.impact_started_at or timezone.now()
    check_incident(incident)
    incident.affected_users = _affected_users_of(incident.affected_ci)
    incident.save()
    record(
        incident,
        TimelineKind.CREATED,
        f"Incident logged by {name_of(actor)}: P{incident.priority}, "
        f"{incident.affected_users} affected users",
        actor=actor,
        data={"priority": incident.priority, "affected_users": incident.affected_users},
    )
    if parent is not None:
        incident = link_incident(incident=incident, parent=parent, actor=actor)
    actor_user = user_of(actor)
    events.send_after_commit(
        events.incident_logged,
        incident_id=incident.pk,
        actor_id=actor_user.pk if actor_user is not None else None,
    )
    evaluate_rules_after_commit(incident)
    return incident


def _display(value: Any) -> Any:
    if hasattr(value, "pk"):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@transaction.atomic
def update_incident(*, incident: Incident, actor: Actor | None, **changes: Any) -> Incident:
    """Apply field changes; the priority follows impact and urgency unless a manager set it."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise DomainError(f"unknown fields: {', '.join(sorted(unknown))}")
    incident = lock_incident(incident.pk)
    major = governing_major_incident(incident)
    security = changes.pop("is_security", None)
    if security is not None and bool(security) != incident.is_security:
        _set_security(incident, bool(security), actor)
    before = {name: getattr(incident, name) for name in changes}
    before_priority = incident.priority

    if "priority" in changes:
        if not can_override_priority(actor):
            raise NotAllowed("only an ITSM manager or super admin may set the priority by hand")
        priority = changes.pop("priority")
        incident.priority_is_manual = priority is not None
        if priority is not None:
            incident.priority = priority

    new_state = changes.pop("state", None)
    for name, value in changes.items():
        setattr(incident, name, value)
    if "short_description" in changes and not str(incident.short_description).strip():
        raise DomainError("a short description is required", field="short_description")
    if not incident.priority_is_manual:
        incident.priority = compute_priority(incident.impact, incident.urgency)
    _check_milestones(incident)
    if "affected_ci" in changes:
        incident.affected_users = _affected_users_of(incident.affected_ci)
    if new_state is not None and new_state != incident.state:
        if major is not None and not (
            major.status in OPEN_MI_STATUSES and new_state == IncidentState.IN_PROGRESS
        ):
            raise _state_move_refusal(incident, major, new_state)
        _move_state(incident, new_state, actor)
    incident.save()

    changed = {
        name: [_display(old), _display(getattr(incident, name))]
        for name, old in before.items()
        if name not in ("priority", "state") and getattr(incident, name) != old
    }
    if changed:
        record(
            incident,
            TimelineKind.UPDATED,
            f"{name_of(actor)} changed {', '.join(sorted(changed))}",
            actor=actor,
            data={"changes": changed},
        )
    if incident.priority != before_priority:
        how = "by hand" if incident.priority_is_manual else "from impact and urgency"
        record(
            incident,
            TimelineKind.PRIORITY_CHANGED,
            f"Priority P{before_priority} → P{incident.priority} ({how})",
            actor=actor,
            data={
                "from": before_priority,
                "to": incident.priority,
                "manual": incident.priority_is_manual,
            },
        )
    evaluate_rules_after_commit(incident)
    return incident


def _set_security(incident: Incident, value: bool, actor: Actor | None) -> None:
    """The security flag of an incident and of its MI are one: set both, with one timeline row.

    Under an open MI the flag decides who approves stakeholder updates (legal), so changing it
    is for whoever runs the MI, not for anyone who may edit the incident.
    """
    # Lock order: the incident (held by the caller), then its MI.
    mi = (
        MajorIncident.objects.select_for_update(no_key=True).filter(incident_id=incident.pk).first()
    )
    if mi is not None and mi.is_open and not can_manage(actor, mi):
        raise NotAllowed(
            f"{incident.number} is the incident of {mi.number}: only its incident commander or "
            "an ITSM manager may change whether it is a security incident"
        )
    incident.is_security = value
    if mi is None:
        record(
            incident,
            TimelineKind.UPDATED,
            f"{name_of(actor)} changed is_security",
            actor=actor,
            data={"changes": {"is_security": [not value, value]}},
        )
        return
    # One row for the pair, as update_major_incident writes it.
    record(
        incident,
        TimelineKind.UPDATED,
        f"{mi.number} {'marked' if value else 'no longer'} a security incident by {name_of(actor)}",
        actor=actor,
        major_incident=mi,
        data={"field": "is_security", "from": mi.is_security, "to": value},
    )
    if mi.is_security != value:
        mi.is_security = value
        mi.save(update_fields=["is_security", "updated_at"])


@transaction.atomic
def follow_major_incident(
    *, incident: Incident, to: str, actor: Actor | None, reason: str = ""
) -> Incident:
    """Move an MI's incident with its MI (the MI's lifecycle calls it; nothing else may).

    ``to`` is ``resolved`` (with the MI), ``in_progress`` (the MI reopened) or ``closed``.
    """
    incident = lock_incident(incident.pk)
    if to == IncidentState.RESOLVED:
        if incident.is_open:
            _resolve(incident, actor, reason)
        return incident
    if incident.state == to or to not in _STATE_MOVES[incident.state]:
        return incident  # e.g. closing an MI whose incident a manager had already closed
    _move_state(incident, to, actor)
    incident.save()
    return incident


def _move_state(incident: Incident, to: str, actor: Actor | None) -> None:
    if to not in IncidentState.values:
        raise DomainError(f"unknown state {to!r}", field="state")
    if to == IncidentState.RESOLVED:
        raise DomainError("use the resolve action, which records a resolution note", field="state")
    if to not in _STATE_MOVES[incident.state]:
        raise Conflict(f"an incident cannot move from {incident.state} to {to}", field="state")
    old = incident.state
    now = timezone.now()
    incident.state = to
    if to == IncidentState.IN_PROGRESS and incident.acknowledged_at is None:
        incident.acknowledged_at = now
    if old == IncidentState.RESOLVED and to == IncidentState.IN_PROGRESS:
        incident.resolved_at = None  # reopened: the next resolution is the one that counts
        # Its figure was frozen while resolved; the CMDB may have moved on since.
        incident.affected_users = _affected_users_of(incident.affected_ci)
    if to == IncidentState.CLOSED:
        incident.closed_at = now
    record(
        incident,
        TimelineKind.STATE_CHANGED,
        f"State {old} → {to}",
        actor=actor,
        data={"from": old, "to": to},
    )


@transaction.atomic
def acknowledge_incident(*, incident: Incident, actor: Actor | None) -> Incident:
    """Someone owns it now. Acknowledging twice changes nothing (chatops retries are harmless)."""
    incident = lock_incident(incident.pk)
    if not incident.is_open:
        raise Conflict(f"{incident.number} is {incident.state} and cannot be acknowledged")
    if incident.acknowledged_at is not None:
        return incident
    incident.acknowledged_at = timezone.now()
    if incident.state == IncidentState.NEW:
        incident.state = IncidentState.IN_PROGRESS
    if incident.assigned_to_id is None and user_of(actor) is not None:
        incident.assigned_to = user_of(actor)
    incident.save()
    record(incident, TimelineKind.ACKNOWLEDGED, f"Acknowledged by {name_of(actor)}", actor=actor)
    return incident


@transaction.atomic
def resolve_incident(*, incident: Incident, actor: Actor | None, resolution_notes: str) -> Incident:
    notes = (resolution_notes or "").strip()
    if not notes:
        raise DomainError("a resolution note is required", field="resolution_notes")
    incident = lock_incident(incident.pk)
    major = governing_major_incident(incident)
    if major is not None:
        raise _state_move_refusal(incident, major, IncidentState.RESOLVED)
    if not incident.is_open:
        raise Conflict(f"{incident.number} is already {incident.state}")
    return _resolve(incident, actor, notes)


def _resolve(incident: Incident, actor: Actor | None, notes: str) -> Incident:
    now = timezone.now()
    incident.state = IncidentState.RESOLVED
    incident.resolution_notes = notes
    incident.resolved_at = now
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
    incident.save()
    record(
        incident,
        TimelineKind.RESOLVED,
        f"Resolved by {name_of(actor)}: {notes}",
        actor=actor,
        data={"resolution_notes": notes},
    )
    return incident


@transaction.atomic
def link_incident(*, incident: Incident, parent: Incident, actor: Actor | None) -> Incident:
    """Make ``incident`` a child of ``parent`` (a duplicate or a symptom of the same outage)."""
    if parent.pk == incident.pk:
        raise DomainError("an incident cannot be its own parent", field="parent")
    locked = lock_incidents([incident.pk, parent.pk])
    incident, parent = locked[incident.pk], locked[parent.pk]
    _check_parent(incident, parent)
    if incident.children.exists():
        raise Conflict(f"{incident.number} has child incidents of its own", field="parent")
    if incident.parent_id == parent.pk:
        return incident
    major = governing_major_incident(incident)
    if major is not None:
        raise _refuse_under_mi(
            incident,
            major,
            "linked as a child of another incident",
            f"link {parent.number} to {incident.number} instead",
        )
    incident.parent = parent
    incident.save(update_fields=["parent", "updated_at"])
    record(
        incident,
        TimelineKind.LINKED,
        f"Linked as a child of {parent.number} by {name_of(actor)}",
        actor=actor,
        data={"parent": parent.number},
    )
    record(
        parent,
        TimelineKind.LINKED,
        f"{incident.number} linked as a child by {name_of(actor)}",
        actor=actor,
        data={"child": incident.number},
    )
    evaluate_rules_after_commit(parent)
    return incident


@transaction.atomic
def mark_under_maintenance(
    *, incident: Incident, maintenance: str, actor: Actor | None = None
) -> Incident:
    """Flag an incident logged on a component under scheduled maintenance (comms' maintenance
    windows call this), once, with its timeline row; the rules then leave it undeclared unless
    one says ``during_maintenance``."""
    incident = lock_incident(incident.pk)
    if incident.under_maintenance:
        return incident
    incident.under_maintenance = True
    incident.save(update_fields=["under_maintenance", "updated_at"])
    record(
        incident,
        TimelineKind.MAINTENANCE,
        f"Logged on a component under scheduled maintenance: {maintenance}",
        actor=actor,
        data={"maintenance": maintenance},
    )
    return incident
