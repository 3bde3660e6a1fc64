"""Reads of the first-hour checkpoints: an MI's list, and whether an event fulfils one.

``fulfilment_met`` reads the state the fulfilling event left behind (roles held, threads and
their owners, milestones, a decision on the timeline), never the event itself: a receiver that
runs late, twice, or after a lost signal's backstop still comes to the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from incidents.models import MajorIncident, RaciRole, RoleAssignment, TimelineEntry, TimelineKind

from ..models import COMMAND_THREAD, AssessmentRevision, Checkpoint, Fulfilment, Thread

# The three roles the 0–5 minute checkpoint asks for.
MOBILISED_ROLES = (
    RaciRole.MAJOR_INCIDENT_MANAGER,
    RaciRole.TECHNICAL_LEAD,
    RaciRole.COMMUNICATIONS_LEAD,
)
# A decision in the command thread (or in no thread) starting with "Resolved when" writes the
# "resolved" criteria: "Resolved when checkout errors stay under 0.1 % for 30 min". Markdown
# emphasis or a heading before the words still counts ("**Resolved when** …").
RESOLUTION_CRITERIA = r"^[\s*_#>-]*resolved when"


def mi_checkpoints(mi: MajorIncident) -> QuerySet[Checkpoint]:
    """The MI's checkpoints in the framework's order (due time, then the template's order)."""
    return (
        Checkpoint.objects.filter(major_incident=mi)
        .select_related("done_by")
        .order_by("due_at", "template__position", "id")
    )


def pending_fulfilments(mi_id: int, fulfilments: Iterable[str]) -> set[str]:
    """Which of ``fulfilments`` still have an open (unticked) checkpoint on the MI."""
    return set(
        Checkpoint.objects.filter(
            major_incident_id=mi_id, done_at__isnull=True, fulfilled_by__in=list(fulfilments)
        ).values_list("fulfilled_by", flat=True)
    )


def fulfilment_met(mi_id: int, fulfilment: str) -> bool:
    """Whether the MI's state now fulfils checkpoints of kind ``fulfilment``."""
    if fulfilment == Fulfilment.ROLES_ASSIGNED:
        held = RoleAssignment.objects.filter(
            major_incident_id=mi_id, removed_at__isnull=True, role__in=MOBILISED_ROLES
        ).values_list("role", flat=True)
        return set(held) >= set(MOBILISED_ROLES)
    if fulfilment == Fulfilment.PIR_OWNER:
        # The PIR app (a later issue) will own the post-incident review's owner and deadline;
        # until then the problem manager, who owns the root cause, stands for it.
        return RoleAssignment.objects.filter(
            major_incident_id=mi_id, removed_at__isnull=True, role=RaciRole.PROBLEM_MANAGER
        ).exists()
    if fulfilment == Fulfilment.SUBSYSTEM_OWNERS:
        owners = list(
            Thread.objects.filter(major_incident_id=mi_id).values_list("owner_id", flat=True)
        )
        return bool(owners) and all(owner is not None for owner in owners)
    if fulfilment == Fulfilment.ASSESSMENT_WRITTEN:
        return AssessmentRevision.objects.filter(major_incident_id=mi_id).exists()
    if fulfilment in (Fulfilment.INTERNAL_UPDATE, Fulfilment.EXTERNAL_UPDATE):
        field = (
            "first_stakeholder_update_at"
            if fulfilment == Fulfilment.INTERNAL_UPDATE
            else "first_customer_update_at"
        )
        return MajorIncident.objects.filter(pk=mi_id, **{f"{field}__isnull": False}).exists()
    if fulfilment == Fulfilment.RESOLUTION_CRITERIA:
        return TimelineEntry.objects.filter(
            major_incident_id=mi_id,
            kind=TimelineKind.DECISION,
            thread__in=[COMMAND_THREAD, ""],
            message__iregex=RESOLUTION_CRITERIA,
        ).exists()
    return False  # manual: only a person ticks it
