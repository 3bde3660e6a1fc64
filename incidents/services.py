"""Domain operations on incidents, the CMDB and system properties.

Every change of state goes through one function here that, in one transaction, writes the change
and its row in the incident's timeline. Views, serializers, forms, admin actions and tasks call
these functions and hold no rules of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, User
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from . import cmdb
from .errors import DomainError, NotAllowed
from .models import (
    OPEN_INCIDENT_STATES,
    CIDependency,
    ConfigurationItem,
    Incident,
    IncidentState,
    Problem,
    ProblemState,
    SystemProperty,
    SystemPropertyChange,
    TimelineEntry,
    TimelineKind,
)
from .properties import REGISTRY

# Who acts: a user from a session or a token, anonymous, or None for the system (beat, rules).
Actor = User | AnonymousUser

# ITIL impact x urgency -> priority (DESIGN, "Priority matrix").
PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (1, 1): 1, (1, 2): 2, (2, 1): 2,
    (1, 3): 3, (2, 2): 3, (3, 1): 3,
    (2, 3): 4, (3, 2): 4,
    (3, 3): 5,
}  # fmt: skip

ROLE_GROUPS = ("technician", "itsm_manager", "super_admin", "legal")


def compute_priority(impact: int, urgency: int) -> int:
    try:
        return PRIORITY_MATRIX[(int(impact), int(urgency))]
    except (KeyError, TypeError, ValueError):
        raise DomainError("impact and urgency must each be 1, 2 or 3", field="impact") from None


# --- Timeline -------------------------------------------------------------------------------------


def record(
    incident: Incident,
    kind: str,
    message: str,
    *,
    actor: Actor | None = None,
    data: dict[str, Any] | None = None,
    major_incident: Any = None,
) -> TimelineEntry:
    """Append one row to an incident's timeline (callers hold the transaction).

    Rows about a major incident also carry it; the war room shows the rows of the MI and of its
    incident together.
    """
    return TimelineEntry.objects.create(
        incident=incident,
        major_incident=major_incident,
        kind=kind,
        message=message,
        data=data or {},
        actor=_user(actor),
    )


def _user(actor: Actor | None) -> User | None:
    """The acting user as a row to point at, or None for anonymous and system actions."""
    return actor if isinstance(actor, User) else None


def _who(actor: Actor | None) -> str:
    if actor is None or not actor.is_authenticated:
        return "system"
    return actor.get_username()


# --- System properties ----------------------------------------------------------------------------

_PROPERTY_CACHE_KEY = "sysprop:v1:{}"
_PROPERTY_CACHE_SECONDS = 60


def get_property(key: str) -> Any:
    """The current value of a system property, cached; the registry default if no row exists."""
    spec = REGISTRY[key]
    cache_key = _PROPERTY_CACHE_KEY.format(key)
    value = cache.get(cache_key)
    if value is None:
        row = SystemProperty.objects.filter(key=key).values_list("value", flat=True).first()
        value = spec.default if row is None else row
        cache.set(cache_key, value, _PROPERTY_CACHE_SECONDS)
    return value


def set_property(*, key: str, value: Any, actor: Actor | None) -> SystemProperty:
    """Validate and store a new value, recording who changed it, from what, and when."""
    spec = REGISTRY.get(key)
    if spec is None:
        raise DomainError(f"unknown system property {key!r}", field="key")
    try:
        clean = spec.validate(value)
    except ValueError as exc:
        raise DomainError(f"{key} {exc}", field="value") from None
    user = _user(actor)
    with transaction.atomic():
        prop, created = SystemProperty.objects.select_for_update().get_or_create(
            key=key, defaults={"value": clean, "updated_by": user}
        )
        old = None if created else prop.value
        if created or old != clean:
            prop.value = clean
            prop.updated_by = user
            prop.updated_at = timezone.now()
            prop.save(update_fields=["value", "updated_by", "updated_at"])
            SystemPropertyChange.objects.create(
                prop=prop,
                old_value=old,
                new_value=clean,
                changed_by=user,
                changed_at=prop.updated_at,  # one instant for the row and its history
            )
        transaction.on_commit(lambda: cache.delete(_PROPERTY_CACHE_KEY.format(key)))
    return prop


# --- Incidents ------------------------------------------------------------------------------------

# Moves allowed through a plain update; resolving needs a resolution note and has its own service.
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


def can_override_priority(actor: Actor | None) -> bool:
    return bool(actor is not None and actor.has_perm("incidents.override_priority"))


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
    incident.created_by = _user(actor)
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
        f"Incident logged by {_who(actor)}: P{incident.priority}, "
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
            f"{_who(actor)} changed {', '.join(sorted(changed))}",
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
        raise DomainError(f"an incident cannot move from {incident.state} to {to}", field="state")
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
        raise DomainError(f"{incident.number} is {incident.state} and cannot be acknowledged")
    if incident.acknowledged_at is not None:
        return incident
    incident.acknowledged_at = timezone.now()
    if incident.state == IncidentState.NEW:
        incident.state = IncidentState.IN_PROGRESS
    if incident.assigned_to_id is None and _user(actor) is not None:
        incident.assigned_to = _user(actor)
    incident.save()
    record(incident, TimelineKind.ACKNOWLEDGED, f"Acknowledged by {_who(actor)}", actor=actor)
    return incident


@transaction.atomic
def resolve_incident(*, incident: Incident, actor: Actor | None, resolution_notes: str) -> Incident:
    notes = (resolution_notes or "").strip()
    if not notes:
        raise DomainError("a resolution note is required", field="resolution_notes")
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_open:
        raise DomainError(f"{incident.number} is already {incident.state}")
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
        f"Resolved by {_who(actor)}: {notes}",
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
        raise DomainError(
            f"{parent.number} is itself a child of {Incident(pk=parent.parent_id).number}; "
            "link to that one",
            field="parent",
        )
    if incident.children.exists():
        raise DomainError(f"{incident.number} has child incidents of its own", field="parent")
    if parent.state == IncidentState.CANCELLED:
        raise DomainError(f"{parent.number} is cancelled", field="parent")
    if incident.parent_id == parent.pk:
        return incident
    incident.parent = parent
    incident.save(update_fields=["parent", "updated_at"])
    record(
        incident,
        TimelineKind.LINKED,
        f"Linked as a child of {parent.number} by {_who(actor)}",
        actor=actor,
        data={"parent": parent.number},
    )
    record(
        parent,
        TimelineKind.LINKED,
        f"{incident.number} linked as a child by {_who(actor)}",
        actor=actor,
        data={"child": incident.number},
    )
    evaluate_rules_after_commit(parent)
    return incident


# --- CMDB -----------------------------------------------------------------------------------------


def refresh_affected_users(ci_ids: Iterable[int]) -> None:
    """After commit, recompute the affected users of open incidents reached by ``ci_ids``.

    A CMDB edit may reach many incidents through a large graph, so the recomputation runs on a
    worker, not in the request that made the edit.
    """
    from .tasks import refresh_affected_users as task

    ids = sorted(set(ci_ids))
    if ids:
        transaction.on_commit(lambda: task.delay(ids))


@transaction.atomic
def refresh_affected_users_now(ci_ids: Iterable[int]) -> int:
    """Recompute ``affected_users`` of open incidents whose impact reaches any of ``ci_ids``.

    Closed and resolved incidents keep the figure they had: it is what the outage reached then.
    Idempotent: incidents already showing the current figure are left alone. Returns how many
    incidents changed.
    """
    changed = 0
    for ci_id in cmdb.open_incident_cis_reaching(ci_ids):
        users = cmdb.affected_users(ci_id)
        stale = Incident.objects.filter(
            affected_ci_id=ci_id, state__in=OPEN_INCIDENT_STATES
        ).exclude(affected_users=users)
        for incident in stale.select_for_update():
            old = incident.affected_users
            incident.affected_users = users
            incident.save(update_fields=["affected_users", "updated_at"])
            evaluate_rules_after_commit(incident)
            record(
                incident,
                TimelineKind.IMPACT_CHANGED,
                f"Affected users {old} → {users} after a CMDB change",
                data={"from": old, "to": users},
            )
            changed += 1
    return changed


@transaction.atomic
def save_configuration_item(
    *,
    actor: Actor | None,
    ci: ConfigurationItem | None = None,
    depends_on: Sequence[ConfigurationItem] | None = None,
    **fields: Any,
) -> ConfigurationItem:
    """Create or update a CI and, when given, replace its dependencies; keep incidents current."""
    ci = ci or ConfigurationItem()
    old_users = ci.user_count if ci.pk else None
    for name, value in fields.items():
        setattr(ci, name, value)
    ci.save()
    touched: set[int] = set()
    if old_users is not None and old_users != ci.user_count:
        touched.add(ci.pk)
    if depends_on is not None:
        touched |= set_dependencies(ci=ci, providers=depends_on)
    if touched:
        refresh_affected_users(touched)
    return ci


def set_dependencies(*, ci: ConfigurationItem, providers: Sequence[ConfigurationItem]) -> set[int]:
    """Make ``ci`` depend on exactly ``providers``. Returns the providers added or removed.

    The caller refreshes incidents for the returned ids: an edge change alters the impact of the
    provider and of everything upstream of it.
    """
    wanted = {p.pk for p in providers}
    if ci.pk in wanted:
        raise DomainError("a CI cannot depend on itself", field="depends_on")
    current = set(ci.provider_links.values_list("provider_id", flat=True))
    removed, added = current - wanted, wanted - current
    if removed:
        ci.provider_links.filter(provider_id__in=removed).delete()
    CIDependency.objects.bulk_create(
        [CIDependency(consumer=ci, provider_id=pid) for pid in sorted(added)]
    )
    return removed | added


@transaction.atomic
def delete_configuration_item(*, ci: ConfigurationItem, actor: Actor | None) -> None:
    # Removing a CI changes the impact of everything upstream of it: note its providers before
    # the edges go, then walk up from them. Incidents that pointed at the CI keep their figure.
    providers = set(ci.provider_links.values_list("provider_id", flat=True))
    ci.delete()
    refresh_affected_users(providers)


# --- Problems ------------------------------------------------------------------------------------


def save_problem(*, problem: Problem, actor: Actor | None) -> Problem:
    """Save a problem; ``resolved_at`` is stamped on resolved/closed and cleared on reopening."""
    done = problem.state in (ProblemState.RESOLVED, ProblemState.CLOSED)
    if done and problem.resolved_at is None:
        problem.resolved_at = timezone.now()
    elif not done:
        problem.resolved_at = None
    if problem.pk is None and problem.created_by_id is None:
        problem.created_by = _user(actor)
    problem.save()
    return problem


# --- Users and roles ------------------------------------------------------------------------------


def set_user_roles(user: AbstractBaseUser, roles: Iterable[str]) -> None:
    """Make the user's groups exactly ``roles`` (creating unknown groups, which carry no rights)."""
    wanted = {r for r in roles if isinstance(r, str) and r.strip()}
    current = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    if wanted == current:
        return
    with transaction.atomic():
        groups = [Group.objects.get_or_create(name=name)[0] for name in sorted(wanted)]
        user.groups.set(groups)  # type: ignore[attr-defined]
    # Django caches permissions per user object; drop them so this request sees the new roles.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)


def evaluate_rules_after_commit(incident: Incident) -> None:
    """Queue the auto-declaration rules for an incident that was created or changed."""
    from .tasks import evaluate_incident as task

    incident_id = incident.pk
    transaction.on_commit(lambda: task.delay(incident_id))


# Major incidents live in their own module for size; they are services of this app all the same.
from .majors import *  # noqa: E402, F403
