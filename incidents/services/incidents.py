"""Incidents: logging, updating, acknowledging, resolving and linking them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..errors import Conflict, DomainError, NotAllowed
from ..models import (
    ConfigurationItem,
    Incident,
    IncidentState,
    TimelineKind,
)
from ..selectors import cmdb
from ..selectors.access import (
    can_override_priority,
)
from ..selectors.actors import Actor, name_of, user_of
from .common import record
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
    if incident.parent_id is not None and incident.parent and incident.parent.parent_id:
        raise DomainError("the parent is itself a child; link to its parent", field="parent")
    _check_milestones(incident)


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
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
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
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
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
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_open:
        raise Conflict(f"{incident.number} is already {incident.state}")
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
    locked = {
        row.pk: row
        for row in Incident.objects.select_for_update().filter(pk__in=[incident.pk, parent.pk])
    }
    incident, parent = locked[incident.pk], locked[parent.pk]
    if parent.parent_id is not None:
        raise Conflict(
            f"{parent.number} is itself a child of {Incident(pk=parent.parent_id).number}; "
            "link to that one",
            field="parent",
        )
    if incident.children.exists():
        raise Conflict(f"{incident.number} has child incidents of its own", field="parent")
    if parent.state == IncidentState.CANCELLED:
        raise Conflict(f"{parent.number} is cancelled", field="parent")
    if incident.parent_id == parent.pk:
        return incident
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
