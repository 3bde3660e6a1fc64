"""Reads about major incidents that pages, the API, tasks and services share."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from ..models import (
    OPEN_INCIDENT_STATES,
    OPEN_MI_STATUSES,
    AutoDeclarationRule,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    RaciEntry,
    RaciRole,
    RoleAssignment,
    TimelineEntry,
)
from .access import can_declare, can_manage, restrict
from .actors import Actor, user_of
from .properties import get_property

IC = RaciRole.MAJOR_INCIDENT_MANAGER

# The lifecycle: which moves exist at all. The guards on top are in ``allowed_moves``.
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


# While its MI is live (declared up to resolved), an incident's state is the MI's: the MI's
# lifecycle resolves, reopens and closes it, and a direct move would leave the MI declared over
# a resolved incident, past the stability and cancellation guards. Closed and cancelled MIs let go.
LIVE_MI_STATUSES = (*OPEN_MI_STATUSES, MIStatus.RESOLVED)


def governing_major_incident(incident: Incident) -> MajorIncident | None:
    """The live MI whose lifecycle the incident follows, if any.

    Services call it holding the incident's lock; every MI transition takes that lock too, so
    the answer holds until they commit.
    """
    return (
        MajorIncident.objects.filter(incident_id=incident.pk, status__in=LIVE_MI_STATUSES)
        .only("id", "status", "incident_id")
        .first()
    )


# --- Moves of the lifecycle -----------------------------------------------------------------------

_STATUS_ORDER = list(MIStatus.values)


@dataclass(frozen=True)
class Move:
    """One move of the lifecycle out of the MI's status, as one actor may see it at one moment.

    ``allowed`` is what the service accepts; when it is not, ``why`` says why in a sentence and
    ``possible_at`` when it becomes possible by itself (the stability period), if it will.
    """

    to: str
    permitted: bool  # the actor may make this kind of move on this MI
    possible: bool  # its guards hold now
    why: str = ""
    possible_at: datetime | None = None
    overridable: bool = False  # the guard gives way to the IC's written reason (stability)
    can_override: bool = False  # ... and this actor is that IC
    needs_reason: bool = False  # the move itself needs a written reason (cancelling)

    @property
    def allowed(self) -> bool:
        return self.permitted and self.possible


def move_not_permitted(
    actor: Actor | None, mi: MajorIncident, to: str, *, may_manage: bool | None = None
) -> str:
    """Why ``actor`` may not move ``mi`` to ``to`` at all (a sentence), or "" if they may.

    Cancelling (declared in error, downgraded) is the declarer's call; every other move is the
    IC's or an ITSM manager's. ``may_manage``: ``can_manage(actor, mi)`` if the caller knows it.
    """
    if to == MIStatus.CANCELLED:
        if can_declare(actor):
            return ""
        return "Cancelling a major incident needs the itsm_manager or super_admin role."
    if may_manage if may_manage is not None else can_manage(actor, mi):
        return ""
    # A fixed sentence, not ``access.refusal`` (one query each): the MI list asks this of every
    # move of every MI on the page.
    return f"Only {mi.number}'s incident commander or an ITSM manager may do this."


def allowed_moves(
    mi: MajorIncident,
    actor: Actor | None,
    now: datetime | None = None,
    *,
    may_manage: bool | None = None,
) -> list[Move]:
    """Every move that exists out of ``mi``'s status, in lifecycle order, each saying whether
    ``actor`` may make it now and, if not, why and when.

    The MI page draws its buttons from it, the API's ``allowed_transitions`` lists the allowed
    ones, and ``transition_major_incident`` refuses exactly what it says. A list passes
    ``may_manage`` from ``manageable`` (one query for the page, not one per MI); the MI's
    role holders are read if prefetched (``prefetch_active_roles``, as the API does), else the
    commander is asked for only when it matters (an IC may override the stability period).
    """
    now = now or timezone.now()
    if may_manage is None:
        may_manage = can_manage(actor, mi)
    moves = []
    for to in sorted(MI_MOVES.get(mi.status, ()), key=_STATUS_ORDER.index):
        refusal = move_not_permitted(actor, mi, to, may_manage=may_manage)
        guard = _guard(mi, to, now)
        if guard is None:
            moves.append(
                Move(
                    to=to,
                    permitted=not refusal,
                    possible=True,
                    why=refusal,
                    needs_reason=to == MIStatus.CANCELLED,
                )
            )
            continue
        why, possible_at = guard
        overridable = to == MIStatus.RESOLVED
        moves.append(
            Move(
                to=to,
                permitted=not refusal,
                possible=False,
                why=refusal or why,
                possible_at=possible_at,
                overridable=overridable,
                can_override=overridable and not refusal and _commands(mi, actor),
            )
        )
    return moves


def manageable(actor: Actor | None, mis: Iterable[MajorIncident]) -> set[int]:
    """The ids among ``mis`` that ``can_manage(actor, mi)`` holds for, in one query: the bulk
    form of ``can_manage`` for a page of MIs (``restrict`` decides, as for every list)."""
    ids = [mi.pk for mi in mis]
    if not ids:
        return set()
    rows = restrict(MajorIncident.objects.filter(pk__in=ids), actor, "manage")
    return set(rows.values_list("pk", flat=True))


def _guard(mi: MajorIncident, to: str, now: datetime) -> tuple[str, datetime | None] | None:
    """What stands in the way of a move that exists (why, and when it clears), or None."""
    if to == MIStatus.RESOLVED:
        minutes = int(get_property("resolution_stability_minutes"))
        since = mi.monitoring_started_at or now
        ready_at = since + timedelta(minutes=minutes)
        if now >= ready_at:
            return None
        stable_for = int((now - since).total_seconds() // 60)
        left = max(1, math.ceil((ready_at - now).total_seconds() / 60))
        return (
            f"{mi.number} has been in monitoring for {stable_for} min; it may be resolved at "
            f"{_clock(ready_at, now)}, in {left} min (after {minutes} min of stability), unless "
            "the incident commander overrides with a written reason",
            ready_at,
        )
    if to == MIStatus.CLOSED and mi.pir_published_at is None:
        return f"{mi.number} may be closed only when its post-incident review is published", None
    return None


def _clock(moment: datetime, now: datetime) -> str:
    moment, now = moment.astimezone(UTC), now.astimezone(UTC)
    if moment.date() == now.date():
        return f"{moment:%H:%M} UTC"
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _commands(mi: MajorIncident, actor: Actor | None) -> bool:
    user = user_of(actor)
    if user is None:
        return False
    commander = current_commander(mi)
    return commander is not None and commander.pk == user.pk


def milestone_not_yet(mi: MajorIncident, name: str) -> str | None:
    """Why ``name`` cannot be set on ``mi`` now (it has not happened), or None if it can.

    The milestones a state stamps exist only once the MI reached that state; the others
    (stakeholder update, fix deployed, …) are facts the team may record whenever they happened.
    ``monitoring_started_at`` is also the stability clock: while the MI is in monitoring only the
    move into monitoring sets it, or a backfill could resolve it before it proved stable.
    """
    if name == "closed_at" and mi.status != MIStatus.CLOSED:
        return f"{mi.number} has not been closed; set when it is closed"
    if name in ("resolved_at", "all_clear_at") and mi.status not in (
        MIStatus.RESOLVED,
        MIStatus.CLOSED,
    ):
        return f"{mi.number} has not been resolved; set once it is resolved"
    if name == "monitoring_started_at":
        if mi.monitoring_started_at is None:
            return f"{mi.number} has not been in monitoring; set when it enters monitoring"
        if mi.status == MIStatus.MONITORING:
            return (
                f"{mi.number} is in monitoring and this is its stability clock; set by the move "
                "to monitoring"
            )
    return None


def prefetch_active_roles() -> Prefetch:
    """For a queryset of MIs: each MI's active role holders, read with the page in one query, as
    ``mi.prefetched_roles``; ``active_roles`` and ``current_commander`` then ask nothing more."""
    return Prefetch(
        "role_assignments",
        queryset=RoleAssignment.objects.filter(removed_at__isnull=True)
        .select_related("user")
        .order_by("id"),
        to_attr="prefetched_roles",
    )


def active_roles(mi: MajorIncident) -> list[RoleAssignment]:
    """Who holds which role on ``mi`` now, in the order they were assigned."""
    prefetched: list[RoleAssignment] | None = getattr(mi, "prefetched_roles", None)
    if prefetched is not None:
        return prefetched
    return list(
        mi.role_assignments.filter(removed_at__isnull=True).select_related("user").order_by("id")
    )


def current_commander(mi: MajorIncident) -> User | None:
    """The incident commander of ``mi`` now (exactly one while it is live)."""
    if getattr(mi, "prefetched_roles", None) is not None:
        return next((r.user for r in active_roles(mi) if r.role == IC), None)
    row = (
        mi.role_assignments.filter(role=IC, removed_at__isnull=True).select_related("user").first()
    )
    return row.user if row else None


def mi_timeline(mi: MajorIncident, *, newest_first: bool = False) -> QuerySet[TimelineEntry]:
    """The MI's timeline: its own rows and its incident's (the incident's life before and under
    the MI), oldest first unless asked otherwise, each with its actor."""
    order = ("-created_at", "-id") if newest_first else ("created_at", "id")
    return (
        TimelineEntry.objects.filter(Q(major_incident=mi) | Q(incident_id=mi.incident_id))
        .select_related("actor")
        .order_by(*order)
    )


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


def sweep_candidates(among: Iterable[int] | None = None) -> list[int]:
    """Open incidents without an MI or a proposal that some enabled rule could match.

    Reads only open incidents (the partial index ``incident_open_by_priority``), so its cost
    follows the open ones, not the history. ``among`` narrows it to those ids (the incidents a
    CMDB change just touched).
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
    if among is not None:
        queryset = queryset.filter(pk__in=sorted(set(among)))
    return list(queryset.order_by("id").values_list("pk", flat=True))
