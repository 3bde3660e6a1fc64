"""Reads about major incidents that pages, the API, tasks and services share."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef

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
)

IC = RaciRole.MAJOR_INCIDENT_MANAGER

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


def active_roles(mi: MajorIncident) -> list[RoleAssignment]:
    return list(
        mi.role_assignments.filter(removed_at__isnull=True).select_related("user").order_by("id")
    )


def current_commander(mi: MajorIncident) -> User | None:
    row = (
        mi.role_assignments.filter(role=IC, removed_at__isnull=True).select_related("user").first()
    )
    return row.user if row else None


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
