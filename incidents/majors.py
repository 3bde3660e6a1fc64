"""Major incidents: declaration, RACI roles, the guarded lifecycle, auto-declaration, escalation.

Part of the incidents app's services (``incidents.services`` re-exports everything here). Each
change of state is one function that writes the change and its timeline row in one transaction
and sends its domain signal after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import events
from .errors import Conflict, DomainError, NotAllowed
from .models import (
    MILESTONES,
    OPEN_INCIDENT_STATES,
    OPEN_MI_STATUSES,
    ORDERED_MILESTONES,
    AutoDeclarationRule,
    AutoDeclareAction,
    CandidateStatus,
    EscalationFiring,
    EscalationPolicy,
    EscalationStep,
    EscalationTrigger,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    MajorIncidentUserObjectPermission,
    MIStatus,
    Priority,
    Problem,
    RaciEntry,
    RaciRole,
    RoleAssignment,
    RoleRoster,
    TimelineKind,
)
from .services import Actor, _user, _who, get_property, record, resolve_incident

__all__ = [
    "DECLARE_PERM", "IC", "MI_MOVES", "ROLE_PERMISSIONS", "Outcome", "accept_candidate",
    "active_roles", "assign_role", "auto_declare_sweep", "can_declare", "can_manage",
    "current_commander", "declare_major_incident", "dry_run", "evaluate_escalations",
    "evaluate_incident", "match_rule", "pick_commander", "raci_holders", "reject_candidate",
    "remove_role", "set_milestones", "sweep_candidates", "transition_major_incident",
]  # fmt: skip

log = logging.getLogger(__name__)

IC = RaciRole.MAJOR_INCIDENT_MANAGER
DECLARE_PERM = "incidents.declare_majorincident"

# Object permissions (django-guardian) each role brings on its MI.
_TEAM = {"view_majorincident", "post_timeline_majorincident", "edit_scratchpad_majorincident"}
ROLE_PERMISSIONS: dict[str, set[str]] = {role: set(_TEAM) for role in RaciRole.values} | {
    IC: _TEAM | {"manage_majorincident", "send_updates_majorincident"},
    RaciRole.COMMUNICATIONS_LEAD: _TEAM | {"send_updates_majorincident"},
    RaciRole.EXECUTIVE_SPONSOR: {"view_majorincident", "post_timeline_majorincident"},
    RaciRole.EXTERNAL_CONSULTANT: {"view_majorincident", "post_timeline_majorincident"},
}

# The lifecycle: which moves exist at all. Guards on top are in ``transition_major_incident``.
MI_MOVES: dict[str, set[str]] = {
    MIStatus.DECLARED: {MIStatus.INVESTIGATING, MIStatus.IDENTIFIED, MIStatus.MONITORING},
    MIStatus.INVESTIGATING: {MIStatus.IDENTIFIED, MIStatus.MONITORING},
    MIStatus.IDENTIFIED: {MIStatus.INVESTIGATING, MIStatus.MONITORING},
    MIStatus.MONITORING: {MIStatus.INVESTIGATING, MIStatus.IDENTIFIED, MIStatus.RESOLVED},
    MIStatus.RESOLVED: {MIStatus.CLOSED, MIStatus.INVESTIGATING},
    MIStatus.CLOSED: set(),
    MIStatus.CANCELLED: set(),
}
for _status in OPEN_MI_STATUSES:
    MI_MOVES[_status].add(MIStatus.CANCELLED)


def can_declare(actor: Actor | None) -> bool:
    return bool(actor is not None and actor.has_perm(DECLARE_PERM))


def can_manage(actor: Actor | None, mi: MajorIncident) -> bool:
    """ITSM managers run every MI; its incident commander runs this one."""
    if actor is None or not actor.is_authenticated:
        return False
    return actor.has_perm(DECLARE_PERM) or actor.has_perm("incidents.manage_majorincident", mi)


def _require_manage(actor: Actor | None, mi: MajorIncident) -> None:
    if not can_manage(actor, mi):
        raise NotAllowed(f"only {mi.number}'s incident commander or an ITSM manager may do this")


def active_roles(mi: MajorIncident) -> list[RoleAssignment]:
    return list(
        mi.role_assignments.filter(removed_at__isnull=True).select_related("user").order_by("id")
    )


def current_commander(mi: MajorIncident) -> User | None:
    row = (
        mi.role_assignments.filter(role=IC, removed_at__isnull=True).select_related("user").first()
    )
    return row.user if row else None


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
        created_by=_user(actor),
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
                declared_by=_user(actor),
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
        f"by rule “{trigger_rule.name}”: {trigger_reason}" if trigger_rule else f"by {_who(actor)}"
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
    ).update(status=CandidateStatus.ACCEPTED, decided_by=_user(actor), decided_at=now,
             major_incident=mi)  # fmt: skip
    events.send_after_commit(
        events.major_incident_declared, major_incident_id=mi.pk, actor_id=_actor_id(actor)
    )
    return mi


def _not_after(moment: datetime | None, limit: datetime) -> datetime | None:
    return moment if moment is None or moment <= limit else limit


def _actor_id(actor: Actor | None) -> int | None:
    user = _user(actor)
    return user.pk if user else None


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
        major_incident=mi, role=role, user=user, assigned_by=_user(actor)
    )
    _grant(user, mi, ROLE_PERMISSIONS[role])
    record(
        mi.incident,
        TimelineKind.ROLE_ASSIGNED,
        f"{user.username} is {RaciRole(role).label} (assigned by {_who(actor)})",
        actor=actor,
        major_incident=mi,
        data={"role": role, "user": user.username},
    )
    events.send_after_commit(
        events.role_assigned,
        major_incident_id=mi.pk,
        role=role,
        user_id=user.pk,
        actor_id=_actor_id(actor),
    )
    return row


def _end(row: RoleAssignment, actor: Actor | None, why: str) -> None:
    row.removed_at = timezone.now()
    row.removed_by = _user(actor)
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
        actor_id=_actor_id(actor),
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
    _end(assignment, actor, f"removed by {_who(actor)}")


def raci_holders(mi: MajorIncident, activity_code: str) -> dict[str, list[User]]:
    """Who is R, A, C and I for an activity on this MI: the active holders of each role."""
    letters: dict[str, list[str]] = {"R": [], "A": [], "C": [], "I": []}
    for role, letter in RaciEntry.objects.filter(activity__code=activity_code).values_list(
        "role", "letter"
    ):
        letters[letter].append(role)
    holders = active_roles(mi)
    return {
        letter: [r.user for r in holders if r.role in roles] for letter, roles in letters.items()
    }


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
                    f"{mi.number} has been in monitoring for {_minutes(stable_for)} min; it may be "
                    f"resolved after {_minutes(needed)} min of stability, unless the incident "
                    "commander overrides with a written reason",
                    field="to",
                )
            if current_commander(mi) != _user(actor):
                raise NotAllowed("only the incident commander may override the stability period")
            if not reason:
                raise DomainError(
                    "overriding the stability period needs a written reason", field="reason"
                )
            note = f" (stability period overridden after {_minutes(stable_for)} min: {reason})"
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
        f"{label}{mi.number} {old} → {to} by {_who(actor)}{because}{note}",
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
        actor_id=_actor_id(actor),
    )
    return mi


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


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
            f"{name} set to {shown} by {_who(actor)}",
            actor=actor,
            major_incident=mi,
            data={"milestone": name, "value": value and value.isoformat()},
        )
    return mi


# --- Auto-declaration -----------------------------------------------------------------------------


def _threshold(fixed: int | None, prop: str) -> int | None:
    return int(get_property(prop)) if prop else fixed


def match_rule(
    rule: AutoDeclarationRule, incident: Incident, now: datetime, *, as_history: bool = False
) -> str | None:
    """Why ``rule`` matches ``incident`` (a sentence), or None. Every set condition must hold.

    ``as_history`` asks whether it matched at any point of its life, for the admin's dry run: an
    incident counts as unacknowledged until it was acknowledged or resolved.
    """
    reasons: list[str] = []
    if rule.max_priority is not None:
        if incident.priority > rule.max_priority:
            return None
        reasons.append(f"P{incident.priority}")
    states = rule.states or list(OPEN_INCIDENT_STATES)
    if not as_history and incident.state not in states:
        return None
    limit = _threshold(rule.unacknowledged_minutes, rule.unacknowledged_minutes_property)
    if limit is not None:
        end = incident.acknowledged_at or (incident.resolved_at if as_history else None)
        if end is not None and not as_history:
            return None
        waited = (end or now) - incident.created_at
        if waited < timedelta(minutes=limit):
            return None
        reasons.append(f"unacknowledged for {_minutes(waited)} min (limit {limit})")
    users = _threshold(rule.min_affected_users, rule.min_affected_users_property)
    if users is not None:
        if incident.affected_users <= users:
            return None
        reasons.append(f"{incident.affected_users} affected users (more than {users})")
    if rule.min_child_incidents is not None:
        children = incident.children.count()
        if children < rule.min_child_incidents:
            return None
        reasons.append(f"{children} linked child incidents")
    if rule.max_ci_criticality is not None:
        ci = incident.affected_ci
        if ci is None or ci.criticality > rule.max_ci_criticality:
            return None
        reasons.append(f"affected CI {ci.name} is {ci.get_criticality_display()}")
    if rule.is_security is not None:
        if incident.is_security != rule.is_security:
            return None
        reasons.append("security incident" if rule.is_security else "not a security incident")
    return ", ".join(reasons) or "matches all incidents"


def pick_commander(incident: Incident) -> User | None:
    """Who commands an MI a rule declares: the on-call IC, else the assignee if they may declare."""
    roster = RoleRoster.objects.filter(role=IC, user__is_active=True).select_related("user").first()
    if roster is not None:
        return roster.user
    assignee = incident.assigned_to
    if assignee is not None and assignee.is_active and assignee.has_perm(DECLARE_PERM):
        return assignee
    return None


@dataclass(frozen=True)
class Outcome:
    incident_id: int
    action: str  # "declared", "proposed" or "" (nothing to do)
    detail: str = ""


def evaluate_incident(
    incident_id: int,
    *,
    now: datetime | None = None,
    rules: Iterable[AutoDeclarationRule] | None = None,
) -> Outcome:
    """Run the rules over one incident and act on the first match. Safe to run twice at once."""
    mode = get_property("major_incident_auto_declare_mode")
    if mode == "off":
        return Outcome(incident_id, "", "auto-declaration is off")
    now = now or timezone.now()
    rules = (
        list(rules) if rules is not None else list(AutoDeclarationRule.objects.filter(enabled=True))
    )
    with transaction.atomic():
        # skip_locked: another sweep holds this incident and will decide it; move on.
        incident = (
            Incident.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("affected_ci", "assigned_to")
            .filter(pk=incident_id, state__in=OPEN_INCIDENT_STATES)
            .first()
        )
        if incident is None:
            return Outcome(incident_id, "", "closed, missing or being decided elsewhere")
        if (
            MajorIncident.objects.filter(incident_id=incident_id).exists()
            or MajorIncidentCandidate.objects.filter(incident_id=incident_id).exists()
        ):
            return Outcome(incident_id, "", "already declared or proposed")
        for rule in rules:
            reason = match_rule(rule, incident, now)
            if reason is None:
                continue
            propose = mode == "propose" or rule.action == AutoDeclareAction.PROPOSE
            commander = None if propose else pick_commander(incident)
            if not propose and commander is None:
                propose = True
                reason += "; proposed instead of declared: no incident commander on the roster"
            if propose:
                _propose(incident, rule, reason)
                return Outcome(incident_id, "proposed", reason)
            assert commander is not None
            mi = declare_major_incident(
                incident=incident,
                manager=commander,
                actor=None,
                initial_impact_statement=f"{incident.short_description} ({reason})",
                trigger_rule=rule,
                trigger_reason=reason,
            )
            return Outcome(incident_id, "declared", mi.number)
    return Outcome(incident_id, "", "no rule matches")


def _propose(incident: Incident, rule: AutoDeclarationRule, reason: str) -> MajorIncidentCandidate:
    candidate = MajorIncidentCandidate.objects.create(incident=incident, rule=rule, reason=reason)
    record(
        incident,
        TimelineKind.PROPOSED,
        f"Proposed as a major incident by rule “{rule.name}”: {reason}",
        data={"rule": rule.name, "reason": reason},
    )
    events.send_after_commit(
        events.major_incident_proposed, candidate_id=candidate.pk, incident_id=incident.pk
    )
    return candidate


def sweep_candidates() -> list[int]:
    """Open incidents without an MI or a proposal that some enabled rule could match.

    Reads only open incidents (the partial index ``incident_open_by_priority``), so its cost
    follows the open ones, not the history.
    """
    rules = list(AutoDeclarationRule.objects.filter(enabled=True))
    if not rules:
        return []
    # NOT EXISTS probes the one-to-one indexes per open incident; NOT IN would read every MI
    # and proposal ever made on each sweep.
    queryset = Incident.objects.filter(state__in=OPEN_INCIDENT_STATES).filter(
        ~Exists(MajorIncident.objects.filter(incident_id=OuterRef("pk"))),
        ~Exists(MajorIncidentCandidate.objects.filter(incident_id=OuterRef("pk"))),
    )
    if all(rule.max_priority is not None for rule in rules):
        queryset = queryset.filter(priority__lte=max(r.max_priority or 5 for r in rules))
    return list(queryset.order_by("id").values_list("pk", flat=True))


def auto_declare_sweep(*, now: datetime | None = None) -> list[Outcome]:
    """The periodic backstop: evaluate every open candidate incident once."""
    if get_property("major_incident_auto_declare_mode") == "off":
        return []
    rules = list(AutoDeclarationRule.objects.filter(enabled=True))
    outcomes = []
    for incident_id in sweep_candidates():
        try:
            outcome = evaluate_incident(incident_id, now=now, rules=rules)
        except Conflict:
            # Another process declared it between our read and our lock: that is success.
            continue
        if outcome.action:
            outcomes.append(outcome)
    return outcomes


def dry_run(
    rule: AutoDeclarationRule, *, days: int, now: datetime | None = None
) -> list[tuple[Incident, str]]:
    """Incidents of the last ``days`` days that ``rule`` would have declared (writes nothing)."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    hits = []
    recent = Incident.objects.filter(created_at__gte=since).select_related("affected_ci")
    for incident in recent.order_by("-id")[:2000]:
        reason = match_rule(rule, incident, now, as_history=True)
        if reason is not None:
            hits.append((incident, reason))
    return hits


@transaction.atomic
def accept_candidate(
    *,
    candidate: MajorIncidentCandidate,
    actor: Actor | None,
    manager: User | None = None,
    bridge_link: str = "",
    initial_impact_statement: str = "",
) -> MajorIncident:
    if not can_declare(actor):
        raise NotAllowed("accepting a proposal needs the itsm_manager or super_admin role")
    candidate = MajorIncidentCandidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.status != CandidateStatus.PENDING:
        raise Conflict(f"this proposal was already {candidate.status}")
    commander = manager or _user(actor)
    assert commander is not None
    mi = declare_major_incident(
        incident=candidate.incident,
        manager=commander,
        actor=actor,
        initial_impact_statement=initial_impact_statement
        or f"{candidate.incident.short_description} ({candidate.reason})",
        bridge_link=bridge_link,
        trigger_rule=candidate.rule,
        trigger_reason=f"{candidate.reason}; accepted by {_who(actor)}",
    )
    candidate.status = CandidateStatus.ACCEPTED
    candidate.decided_by = _user(actor)
    candidate.decided_at = timezone.now()
    candidate.major_incident = mi
    candidate.save(update_fields=["status", "decided_by", "decided_at", "major_incident"])
    return mi


@transaction.atomic
def reject_candidate(
    *, candidate: MajorIncidentCandidate, actor: Actor | None, reason: str
) -> MajorIncidentCandidate:
    if not can_declare(actor):
        raise NotAllowed("rejecting a proposal needs the itsm_manager or super_admin role")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("rejecting a proposal needs a reason", field="reason")
    candidate = MajorIncidentCandidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.status != CandidateStatus.PENDING:
        raise Conflict(f"this proposal was already {candidate.status}")
    candidate.status = CandidateStatus.REJECTED
    candidate.decided_by = _user(actor)
    candidate.decided_at = timezone.now()
    candidate.decision_reason = reason
    candidate.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    record(
        candidate.incident,
        TimelineKind.PROPOSAL_REJECTED,
        f"Not a major incident, says {_who(actor)}: {reason}",
        actor=actor,
        data={"reason": reason},
    )
    return candidate


# --- Escalation -----------------------------------------------------------------------------------


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
