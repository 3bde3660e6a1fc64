"""Major incidents: declaration, RACI roles, the guarded lifecycle and milestones.

Each change of state is one function that writes the change and its timeline row in one
transaction and sends its domain signal after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import events
from ..errors import Conflict, DomainError, NotAllowed
from ..models import (
    MILESTONES,
    OPEN_INCIDENT_STATES,
    ORDERED_MILESTONES,
    AutoDeclarationRule,
    CandidateStatus,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    MajorIncidentUserObjectPermission,
    MIStatus,
    Priority,
    Problem,
    RaciRole,
    RoleAssignment,
    RoleRoster,
    TimelineKind,
)
from ..selectors.access import (
    ROLE_PERMISSIONS,
    can_declare,
    ensure,
)
from ..selectors.actors import Actor, actor_id, name_of, user_of
from ..selectors.majors import IC, MI_MOVES, active_roles, current_commander
from ..selectors.properties import get_property
from .common import record, whole_minutes
from .incidents import resolve_incident

log = logging.getLogger(__name__)


def _require_manage(actor: Actor | None, mi: MajorIncident) -> None:
    ensure(actor, "manage", mi)  # NotAllowed saying who may


# --- Declaration ----------------------------------------------------------------------------------


@transaction.atomic
def declare_major_incident(
    *,
    incident: Incident,
    manager: User,
    actor: Actor | None,
    initial_impact_statement: str,
    bridge_link: str = "",
    is_security: bool = False,
    summary: str = "",
    trigger_rule: AutoDeclarationRule | None = None,
    trigger_reason: str = "",
) -> MajorIncident:
    """Declare ``incident`` a major incident, with ``manager`` as its incident commander.

    ``actor`` None means a rule declared it (no permission check). In one transaction: the MI,
    the incident raised to P1, the IC and the on-call roles, a linked problem ticket and the
    timeline rows; ``major_incident_declared`` is sent after commit.
    """
    if actor is not None and not can_declare(actor):
        raise NotAllowed("declaring a major incident needs the itsm_manager or super_admin role")
    statement = (initial_impact_statement or "").strip()
    if not statement:
        raise DomainError(
            "an initial impact statement is required", field="initial_impact_statement"
        )
    if not manager.is_active:
        raise DomainError(
            f"{manager.username} is not an active user", field="major_incident_manager"
        )
    # The row lock serialises concurrent declarations of one incident on PostgreSQL; the
    # one-to-one constraint below is the backstop everywhere else.
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    existing = MajorIncident.objects.filter(incident=incident).first()
    if existing is not None:
        raise Conflict(f"{incident.number} already has major incident {existing.number}")
    if not incident.is_open:
        raise DomainError(f"{incident.number} is {incident.state}", field="incident_id")

    now = timezone.now()
    problem = incident.problem or Problem.objects.create(
        short_description=f"Root cause of {incident.number}: {incident.short_description}"[:200],
        affected_ci=incident.affected_ci,
        created_by=user_of(actor),
    )
    try:
        with transaction.atomic():
            mi = MajorIncident.objects.create(
                incident=incident,
                impact_statement=statement,
                bridge_link=bridge_link,
                is_security=is_security or incident.is_security,
                summary=summary,
                trigger_rule=trigger_rule,
                trigger_reason=trigger_reason,
                declared_by=user_of(actor),
                problem=problem,
                impact_started_at=_not_after(incident.impact_started_at, now),
                detected_at=_not_after(incident.detected_at, now),
                declared_at=now,
                war_room_opened_at=now,
                next_update_due_at=now
                + timedelta(minutes=get_property("major_incident_update_cadence_minutes")),
            )
    except IntegrityError:
        existing = MajorIncident.objects.filter(incident=incident).first()
        raise Conflict(
            f"{incident.number} already has major incident "
            f"{existing.number if existing else '(being declared)'}"
        ) from None

    how = (
        f"by rule “{trigger_rule.name}”: {trigger_reason}"
        if trigger_rule
        else f"by {name_of(actor)}"
    )
    record(
        incident,
        TimelineKind.DECLARED,
        f"{mi.number} declared {how}",
        actor=actor,
        major_incident=mi,
        data={
            "major_incident": mi.number,
            "rule": trigger_rule and trigger_rule.name,
            "reason": trigger_reason,
        },
    )
    changed = []
    if incident.problem_id is None:
        incident.problem = problem
        changed.append("problem")
    if incident.priority != Priority.CRITICAL:
        record(
            incident,
            TimelineKind.PRIORITY_CHANGED,
            f"Priority P{incident.priority} → P1 (major incident declared)",
            actor=actor,
            major_incident=mi,
            data={"from": incident.priority, "to": 1, "manual": True},
        )
        incident.priority, incident.priority_is_manual = Priority.CRITICAL, True
        changed += ["priority", "priority_is_manual"]
    if is_security and not incident.is_security:
        incident.is_security = True
        changed.append("is_security")
    if changed:
        incident.save(update_fields=[*changed, "updated_at"])

    _assign(mi, IC, manager, actor)
    for entry in RoleRoster.objects.exclude(role=IC).select_related("user"):
        if entry.role == RaciRole.TECHNICAL_LEAD and entry.user_id == manager.pk:
            continue  # the IC may not also be the one implementing the fix
        if entry.user.is_active:
            _assign(mi, entry.role, entry.user, actor)
    # A proposal still waiting in the queue is settled by this declaration, however it came.
    MajorIncidentCandidate.objects.filter(
        incident=incident, status=CandidateStatus.PENDING
    ).update(status=CandidateStatus.ACCEPTED, decided_by=user_of(actor), decided_at=now,
             major_incident=mi)  # fmt: skip
    events.send_after_commit(
        events.major_incident_declared, major_incident_id=mi.pk, actor_id=actor_id(actor)
    )
    return mi


def _not_after(moment: datetime | None, limit: datetime) -> datetime | None:
    return moment if moment is None or moment <= limit else limit


# --- Roles ----------------------------------------------------------------------------------------


def _mi_permissions(codenames: Iterable[str]) -> list[Permission]:
    content_type = ContentType.objects.get_for_model(MajorIncident)  # cached per process
    return list(Permission.objects.filter(content_type=content_type, codename__in=codenames))


def _grant(user: User, mi: MajorIncident, codenames: set[str]) -> None:
    """Grant object permissions in one insert (guardian's assign_perm costs ~4 queries each).

    Rows go straight into guardian's direct foreign-key table, which is what its backend reads.
    """
    MajorIncidentUserObjectPermission.objects.bulk_create(
        [
            MajorIncidentUserObjectPermission(user=user, permission=perm, content_object=mi)
            for perm in _mi_permissions(codenames)
        ],
        ignore_conflicts=True,  # the user may already hold some through another role
    )


def _assign(mi: MajorIncident, role: str, user: User, actor: Actor | None) -> RoleAssignment:
    row = RoleAssignment.objects.create(
        major_incident=mi, role=role, user=user, assigned_by=user_of(actor)
    )
    _grant(user, mi, ROLE_PERMISSIONS[role])
    record(
        mi.incident,
        TimelineKind.ROLE_ASSIGNED,
        f"{user.username} is {RaciRole(role).label} (assigned by {name_of(actor)})",
        actor=actor,
        major_incident=mi,
        data={"role": role, "user": user.username},
    )
    events.send_after_commit(
        events.role_assigned,
        major_incident_id=mi.pk,
        role=role,
        user_id=user.pk,
        actor_id=actor_id(actor),
    )
    return row


def _end(row: RoleAssignment, actor: Actor | None, why: str) -> None:
    row.removed_at = timezone.now()
    row.removed_by = user_of(actor)
    row.save(update_fields=["removed_at", "removed_by"])
    still = set().union(
        *(
            ROLE_PERMISSIONS[r]
            for r in RoleAssignment.objects.filter(
                major_incident=row.major_incident, user=row.user, removed_at__isnull=True
            ).values_list("role", flat=True)
        )
    )
    MajorIncidentUserObjectPermission.objects.filter(
        user=row.user,
        content_object=row.major_incident,
        permission__codename__in=ROLE_PERMISSIONS[row.role] - still,
    ).delete()
    record(
        row.major_incident.incident,
        TimelineKind.ROLE_REMOVED,
        f"{row.user.username} is no longer {RaciRole(row.role).label} ({why})",
        actor=actor,
        major_incident=row.major_incident,
        data={"role": row.role, "user": row.user.username},
    )
    events.send_after_commit(
        events.role_removed,
        major_incident_id=row.major_incident_id,
        role=row.role,
        user_id=row.user_id,
        actor_id=actor_id(actor),
    )


@transaction.atomic
def assign_role(*, mi: MajorIncident, role: str, user: User, actor: Actor | None) -> RoleAssignment:
    """Give ``user`` a RACI role. Assigning another IC hands command over (recorded)."""
    _require_manage(actor, mi)
    if role not in RaciRole.values:
        raise DomainError(f"unknown role {role!r}", field="role")
    mi = MajorIncident.objects.select_for_update().get(pk=mi.pk)
    if mi.status in (MIStatus.CLOSED, MIStatus.CANCELLED):
        raise DomainError(f"{mi.number} is {mi.status}; its roles are final")
    if not user.is_active:
        raise DomainError(f"{user.username} is not an active user", field="user")
    held = {r.role: r for r in active_roles(mi) if r.user_id == user.pk}
    if role in held:
        return held[role]
    if role == IC and RaciRole.TECHNICAL_LEAD in held:
        raise DomainError(
            f"{user.username} is the technical lead; the incident commander may not also "
            "implement the fix. Assign another technical lead first.",
            field="user",
        )
    if role == RaciRole.TECHNICAL_LEAD and current_commander(mi) == user:
        raise DomainError(
            f"{user.username} is the incident commander and may not also be technical lead",
            field="user",
        )
    if role == IC:
        previous = mi.role_assignments.filter(role=IC, removed_at__isnull=True).first()
        if previous is not None:
            _end(previous, actor, f"command handed over to {user.username}")
    return _assign(mi, role, user, actor)


@transaction.atomic
def remove_role(*, assignment: RoleAssignment, actor: Actor | None) -> None:
    mi = MajorIncident.objects.select_for_update().get(pk=assignment.major_incident_id)
    _require_manage(actor, mi)
    assignment = RoleAssignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.removed_at is not None:
        return
    if assignment.role == IC:
        raise DomainError(
            "a major incident always has one incident commander: assign the new one instead, "
            "which hands command over",
            field="role",
        )
    _end(assignment, actor, f"removed by {name_of(actor)}")


# --- Lifecycle ------------------------------------------------------------------------------------


@transaction.atomic
def transition_major_incident(
    *,
    mi: MajorIncident,
    to: str,
    actor: Actor | None,
    reason: str = "",
    override_stability: bool = False,
) -> MajorIncident:
    """Move an MI to ``to``; a refused move raises DomainError with a sentence saying why."""
    reason = (reason or "").strip()
    mi = MajorIncident.objects.select_for_update().get(pk=mi.pk)
    if to == MIStatus.CANCELLED:
        if not can_declare(actor):
            raise NotAllowed(
                "cancelling a major incident needs the itsm_manager or super_admin role"
            )
    else:
        _require_manage(actor, mi)
    if to not in MIStatus.values:
        raise DomainError(f"unknown status {to!r}", field="to")
    if to == mi.status:
        return mi
    if to not in MI_MOVES[mi.status]:
        raise DomainError(f"a major incident cannot move from {mi.status} to {to}", field="to")

    now = timezone.now()
    note = ""
    if to == MIStatus.CANCELLED and not reason:
        raise DomainError(
            "cancelling needs a reason (declared in error, downgraded, …)", field="reason"
        )
    if to == MIStatus.RESOLVED:
        needed = timedelta(minutes=get_property("resolution_stability_minutes"))
        stable_for = now - (mi.monitoring_started_at or now)
        if stable_for < needed:
            if not override_stability:
                raise DomainError(
                    f"{mi.number} has been in monitoring for {whole_minutes(stable_for)} min; "
                    f"it may be resolved after {whole_minutes(needed)} min of stability, unless "
                    "the incident commander overrides with a written reason",
                    field="to",
                )
            if current_commander(mi) != user_of(actor):
                raise NotAllowed("only the incident commander may override the stability period")
            if not reason:
                raise DomainError(
                    "overriding the stability period needs a written reason", field="reason"
                )
            note = f" (stability period overridden after {whole_minutes(stable_for)} min: {reason})"
    if to == MIStatus.CLOSED and mi.pir_published_at is None:
        raise DomainError(
            f"{mi.number} may be closed only when its post-incident review is published", field="to"
        )

    old = mi.status
    mi.status = to
    fields = ["status", "updated_at"]
    if to == MIStatus.IDENTIFIED and mi.root_cause_identified_at is None:
        mi.root_cause_identified_at = now
        fields.append("root_cause_identified_at")
    if to == MIStatus.MONITORING:
        # Every entry restarts the stability clock: a regression must prove itself again.
        mi.monitoring_started_at = now
        fields.append("monitoring_started_at")
        if mi.mitigated_at is None:
            mi.mitigated_at = now
            fields.append("mitigated_at")
    if to == MIStatus.RESOLVED:
        mi.resolved_at = now
        mi.next_update_due_at = None
        fields += ["resolved_at", "next_update_due_at"]
    if old == MIStatus.RESOLVED and to == MIStatus.INVESTIGATING:
        mi.resolved_at = None
        mi.next_update_due_at = now
        fields += ["resolved_at", "next_update_due_at"]
    if to == MIStatus.CLOSED:
        mi.closed_at = now
        fields.append("closed_at")
    if to == MIStatus.CANCELLED:
        mi.cancel_reason = reason
        mi.next_update_due_at = None
        fields += ["cancel_reason", "next_update_due_at"]
    mi.save(update_fields=fields)

    label = "Regression: " if old == MIStatus.MONITORING and to == MIStatus.INVESTIGATING else ""
    because = f": {reason}" if reason and not note else ""
    record(
        mi.incident,
        TimelineKind.MI_STATUS_CHANGED,
        f"{label}{mi.number} {old} → {to} by {name_of(actor)}{because}{note}",
        actor=actor,
        major_incident=mi,
        data={"from": old, "to": to, "reason": reason, "override_stability": bool(note)},
    )
    if to == MIStatus.RESOLVED:
        _resolve_with_mi(mi, actor, reason)
    events.send_after_commit(
        events.major_incident_state_changed,
        major_incident_id=mi.pk,
        from_status=old,
        to_status=to,
        actor_id=actor_id(actor),
    )
    return mi


def _resolve_with_mi(mi: MajorIncident, actor: Actor | None, reason: str) -> None:
    """The MI's incident and its open child incidents follow the MI into resolution."""
    note = f"Resolved with major incident {mi.number}" + (f": {reason}" if reason else "")
    parent = mi.incident
    for incident in [parent, *parent.children.filter(state__in=OPEN_INCIDENT_STATES)]:
        if incident.state in OPEN_INCIDENT_STATES:
            resolve_incident(incident=incident, actor=actor, resolution_notes=note)


@transaction.atomic
def set_milestones(
    *, mi: MajorIncident, actor: Actor | None, values: dict[str, datetime | None]
) -> MajorIncident:
    """Backfill milestone timestamps; the order of DESIGN is checked on the result."""
    _require_manage(actor, mi)
    unknown = set(values) - set(MILESTONES)
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError(f"{name} is not a milestone", field=name)
    mi = MajorIncident.objects.select_for_update().get(pk=mi.pk)
    now = timezone.now()
    for name, value in values.items():
        if value is None and name == "declared_at":
            raise DomainError("declared_at cannot be cleared", field=name)
        if value is not None and value > now + timedelta(minutes=5):
            raise DomainError(f"{name} must not be in the future", field=name)
    changed = {n: v for n, v in values.items() if getattr(mi, n) != v}
    for name, value in changed.items():
        setattr(mi, name, value)
    previous: tuple[str, datetime] | None = None
    for name in ORDERED_MILESTONES:
        moment = getattr(mi, name)
        if moment is None:
            continue
        if previous is not None and moment < previous[1]:
            field = name if name in values else previous[0]
            raise DomainError(f"{name} must not be before {previous[0]}", field=field)
        previous = (name, moment)
    if not changed:
        return mi
    mi.save(update_fields=[*changed, "updated_at"])
    for name, value in changed.items():
        shown = value.isoformat() if value else "cleared"
        record(
            mi.incident,
            TimelineKind.MILESTONE,
            f"{name} set to {shown} by {name_of(actor)}",
            actor=actor,
            major_incident=mi,
            data={"milestone": name, "value": value and value.isoformat()},
        )
    return mi
