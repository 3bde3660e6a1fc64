"""Major incidents: declaration, RACI roles, the guarded lifecycle and milestones.

Each change of state is one function that writes the change and its timeline row in one
transaction and sends its domain signal after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
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
    IncidentState,
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
    can_command,
    can_declare,
    ensure,
)
from ..selectors.actors import Actor, actor_id, name_of, user_of
from ..selectors.majors import (
    IC,
    active_roles,
    allowed_moves,
    current_commander,
    milestone_not_yet,
    move_not_permitted,
)
from ..selectors.properties import get_property
from .common import lock_incident, lock_major_incident, record, whole_minutes
from .incidents import follow_major_incident

log = logging.getLogger(__name__)


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
    the incident raised to P1, acknowledged and in progress, the IC and the on-call roles, a
    linked problem ticket and the timeline rows; ``major_incident_declared`` is sent after commit.
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
    _require_commander(manager, field="major_incident_manager")
    # The same rule as editing it later: an http(s) link the page can offer as "Join bridge".
    bridge_link = _clean_mi_field("bridge_link", bridge_link or "")
    # The row lock serialises concurrent declarations of one incident on PostgreSQL; the
    # one-to-one constraint below is the backstop everywhere else. It is the first lock of the
    # order (services/common.py): the proposal settled below is locked after it.
    incident = lock_incident(incident.pk)
    existing = MajorIncident.objects.filter(incident=incident).first()
    if existing is not None:
        raise Conflict(f"{incident.number} already has major incident {existing.number}")
    if not incident.is_open:
        raise Conflict(f"{incident.number} is {incident.state}", field="incident_id")

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
    changed += _take_up(incident, mi, actor, now, how)
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


def _take_up(
    incident: Incident, mi: MajorIncident, actor: Actor | None, now: datetime, how: str
) -> list[str]:
    """A declared incident is being worked on: acknowledged (once) and in progress.

    Changes the locked ``incident`` in memory and returns the fields the caller saves; an MI over
    an incident nobody acknowledged would keep the "P1 unacknowledged" clock and the desk's
    queue saying that nobody owns it while a war room runs it.
    """
    changed = []
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
        changed.append("acknowledged_at")
        record(
            incident,
            TimelineKind.ACKNOWLEDGED,
            f"Acknowledged: {mi.number} declared {how}",
            actor=actor,
            major_incident=mi,
        )
    if incident.state in (IncidentState.NEW, IncidentState.ON_HOLD):
        record(
            incident,
            TimelineKind.STATE_CHANGED,
            f"State {incident.state} → {IncidentState.IN_PROGRESS} ({mi.number} declared)",
            actor=actor,
            major_incident=mi,
            data={"from": incident.state, "to": IncidentState.IN_PROGRESS},
        )
        incident.state = IncidentState.IN_PROGRESS
        changed.append("state")
    return changed


def stakeholder_impact_statement(incident: Incident) -> str:
    """An impact statement for an MI nobody wrote one for (a rule declared it, or a proposal was
    accepted without one): what is wrong, how many users of which service, since when (UTC).

    Written for a stakeholder, not in the rule's terms; the rule and its reason are kept apart
    (``trigger_rule``, ``trigger_reason``).
    """
    what = incident.short_description.strip().rstrip(".") or incident.number
    since = (incident.impact_started_at or incident.detected_at or incident.created_at).astimezone(
        UTC
    )
    when = f"since {since:%H:%M} UTC on {since:%Y-%m-%d}"
    ci = incident.affected_ci
    if ci is None:
        return f"{what}. No affected service is recorded yet, nor how many users; {when}."
    users = incident.affected_users
    who = f"{users:,} user{'' if users == 1 else 's'}" if users else "No users counted yet"
    return f"{what}. {who} affected through {ci.name} and the services that depend on it, {when}."


def _not_after(moment: datetime | None, limit: datetime) -> datetime | None:
    return moment if moment is None or moment <= limit else limit


# --- Roles ----------------------------------------------------------------------------------------


def _require_commander(user: User, *, field: str) -> None:
    if not can_command(user):
        raise DomainError(
            f"{user.username} cannot be the incident commander: commanding needs a role that "
            "works incidents (technician, itsm_manager or super_admin)",
            field=field,
        )


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
    ensure(actor, "manage", mi)  # NotAllowed, saying who may
    if role not in RaciRole.values:
        raise DomainError(f"unknown role {role!r}", field="role")
    mi = lock_major_incident(mi)
    if mi.status in (MIStatus.CLOSED, MIStatus.CANCELLED):
        raise Conflict(f"{mi.number} is {mi.status}; its roles are final")
    if not user.is_active:
        raise DomainError(f"{user.username} is not an active user", field="user")
    held = {r.role: r for r in active_roles(mi) if r.user_id == user.pk}
    if role in held:
        return held[role]
    if role == IC:
        _require_commander(user, field="user")
    if role == IC and RaciRole.TECHNICAL_LEAD in held:
        raise Conflict(
            f"{user.username} is the technical lead; the incident commander may not also "
            "implement the fix. Assign another technical lead first.",
            field="user",
        )
    if role == RaciRole.TECHNICAL_LEAD and current_commander(mi) == user:
        raise Conflict(
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
    mi = lock_major_incident(MajorIncident(pk=assignment.major_incident_id))
    ensure(actor, "manage", mi)  # NotAllowed, saying who may
    assignment = RoleAssignment.objects.select_for_update(no_key=True).get(pk=assignment.pk)
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
    """Move an MI to ``to``; a move the MI's state refuses raises Conflict saying why.

    What is refused is what ``selectors.allowed_moves`` says for this actor now (the page's
    buttons and the API's ``allowed_transitions`` come from it too); the written reasons a move
    needs (cancelling, overriding the stability period) are checked here.
    """
    reason = (reason or "").strip()
    # The incident (and its children, which resolve with it) before the MI: the lock order.
    mi = lock_major_incident(mi, with_children=to == MIStatus.RESOLVED)
    refusal = move_not_permitted(actor, mi, to)
    if refusal:
        raise NotAllowed(refusal)
    if to not in MIStatus.values:
        raise DomainError(f"unknown status {to!r}", field="to")
    if to == mi.status:
        return mi

    now = timezone.now()
    move = next((m for m in allowed_moves(mi, actor, now) if m.to == to), None)
    if move is None:
        raise Conflict(f"a major incident cannot move from {mi.status} to {to}", field="to")
    if move.needs_reason and not reason:
        raise DomainError(
            "cancelling needs a reason (declared in error, downgraded, …)", field="reason"
        )
    note = ""
    if not move.possible:
        if not (move.overridable and override_stability):
            raise Conflict(move.why, field="to")
        if not move.can_override:
            raise NotAllowed("only the incident commander may override the stability period")
        if not reason:
            raise DomainError(
                "overriding the stability period needs a written reason", field="reason"
            )
        stable_for = now - (mi.monitoring_started_at or now)
        note = f" (stability period overridden after {whole_minutes(stable_for)} min: {reason})"

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
    elif old == MIStatus.RESOLVED and to == MIStatus.INVESTIGATING:
        # Reopened: an open MI over a resolved incident is what the incident rule forbids.
        follow_major_incident(incident=mi.incident, to=IncidentState.IN_PROGRESS, actor=actor)
    elif to == MIStatus.CLOSED:
        follow_major_incident(incident=mi.incident, to=IncidentState.CLOSED, actor=actor)
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
        follow_major_incident(
            incident=incident, to=IncidentState.RESOLVED, actor=actor, reason=note
        )


# Stamped by the declaration or a move of the lifecycle: corrected, never cleared.
_STAMPED_MILESTONES = frozenset(
    {"declared_at", "monitoring_started_at", "resolved_at", "closed_at"}
)


@transaction.atomic
def set_milestones(
    *, mi: MajorIncident, actor: Actor | None, values: dict[str, datetime | None]
) -> MajorIncident:
    """Backfill milestone timestamps; the order of DESIGN is checked on the result."""
    ensure(actor, "manage", mi)  # NotAllowed, saying who may
    unknown = set(values) - set(MILESTONES)
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError(f"{name} is not a milestone", field=name)
    mi = lock_major_incident(mi)
    now = timezone.now()
    changed = {n: v for n, v in values.items() if getattr(mi, n) != v}
    for name, value in values.items():
        if value is None and name in _STAMPED_MILESTONES and name in changed:
            raise DomainError(f"{name} cannot be cleared", field=name)
        if value is not None and value > now + timedelta(minutes=5):
            raise DomainError(f"{name} must not be in the future", field=name)
        not_yet = milestone_not_yet(mi, name) if name in changed else None
        if not_yet:
            # The MI's state refuses it (it has not reached that point yet): a conflict.
            raise Conflict(f"{name}: {not_yet}", field=name)
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
    events.send_after_commit(
        events.milestone_recorded,
        major_incident_id=mi.pk,
        milestones=sorted(changed),
        actor_id=actor_id(actor),
    )
    return mi


# --- What was declared ----------------------------------------------------------------------------

# The descriptive fields of a declared MI that its team may edit; status, roles and milestones
# have services of their own.
EDITABLE_MI_FIELDS = (
    "impact_statement",
    "summary",
    "bridge_link",
    "bridge_dial_in",
    "is_security",
    "media_attention",
)
_BRIDGE_LINK = URLValidator(schemes=["http", "https"])


def _clean_mi_field(name: str, value: Any) -> Any:
    if name in ("is_security", "media_attention"):
        if not isinstance(value, bool):
            raise DomainError(f"{name} must be true or false", field=name)
        return value
    if not isinstance(value, str):
        raise DomainError(f"{name} must be text", field=name)
    value = value.strip()
    if name == "impact_statement" and not value:
        raise DomainError("the impact statement cannot be empty", field=name)
    if name == "bridge_dial_in" and len(value) > 200:
        raise DomainError("bridge_dial_in is longer than 200 characters", field=name)
    if name == "bridge_link" and value:
        max_length = MajorIncident._meta.get_field("bridge_link").max_length or 500
        if len(value) > max_length:
            raise DomainError(f"bridge_link is longer than {max_length} characters", field=name)
        try:
            _BRIDGE_LINK(value)
        except ValidationError:
            raise DomainError("bridge_link must be an http(s) URL", field=name) from None
    return value


@transaction.atomic
def update_major_incident(
    *, mi: MajorIncident, actor: Actor | None, **fields: Any
) -> MajorIncident:
    """Edit what was declared: impact statement, summary, bridge link and dial-in, security and
    media flags.

    Every field that changes gets its own timeline row; unchanged fields are a no-op (no row, no
    write). The security flag is the incident's too: both are set together so they never
    diverge. Media attention drives an escalation policy, which the periodic
    ``evaluate_escalations`` fires from the flag (within a minute).
    """
    ensure(actor, "manage", mi)  # NotAllowed, saying who may
    unknown = sorted(set(fields) - set(EDITABLE_MI_FIELDS))
    if unknown:
        raise DomainError(
            f"unknown or read-only field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            field=unknown[0],
        )
    cleaned = {name: _clean_mi_field(name, value) for name, value in fields.items()}
    mi = lock_major_incident(mi)  # the incident first: its security flag changes too
    incident = mi.incident
    if mi.status in (MIStatus.CLOSED, MIStatus.CANCELLED):
        raise Conflict(f"{mi.number} is {mi.status}; what was declared is final")
    changed = {name: value for name, value in cleaned.items() if getattr(mi, name) != value}
    if not changed:
        return mi
    for name, value in changed.items():
        old = getattr(mi, name)
        setattr(mi, name, value)
        record(
            incident,
            TimelineKind.UPDATED,
            _describe_mi_change(mi, name, value, actor),
            actor=actor,
            major_incident=mi,
            data={"field": name, "from": old, "to": value},
        )
    mi.save(update_fields=[*changed, "updated_at"])
    if "is_security" in changed and incident.is_security != mi.is_security:
        incident.is_security = mi.is_security
        incident.save(update_fields=["is_security", "updated_at"])
    return mi


def _describe_mi_change(mi: MajorIncident, name: str, value: Any, actor: Actor | None) -> str:
    who = name_of(actor)
    if name == "is_security":
        return f"{mi.number} {'marked' if value else 'no longer'} a security incident by {who}"
    if name == "media_attention":
        return f"{mi.number}: media attention {'raised' if value else 'cleared'} by {who}"
    label = name.replace("_", " ")
    return f"{mi.number}: {label} {'changed' if value else 'cleared'} by {who}"
