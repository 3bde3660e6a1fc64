"""What every service shares: the acting user, the timeline row each change writes, row locks.

Lock order, in every service that locks more than one row (so that two of them can never wait
for each other): Incident rows (ascending id) → MajorIncident → MajorIncidentCandidate →
RoleAssignment. A service that locks an MI locks its incident first, even when it changes only
the MI. Locks are ``FOR NO KEY UPDATE``: no service changes a key, and unlike ``FOR UPDATE`` it
does not block the ``FOR KEY SHARE`` a foreign-key check takes, so inserting a row that merely
points at a locked one (a timeline entry, an escalation firing) never waits on it and never
becomes a lock taken out of order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from ..models import (
    Incident,
    MajorIncident,
    TimelineEntry,
)
from ..selectors.actors import Actor, user_of


def record(
    incident: Incident,
    kind: str,
    message: str,
    *,
    actor: Actor | None = None,
    data: dict[str, Any] | None = None,
    major_incident: Any = None,
    thread: str = "",
    corrects: TimelineEntry | None = None,
) -> TimelineEntry:
    """Append one row to an incident's timeline (callers hold the transaction).

    Rows about a major incident also carry it; the war room shows the rows of the MI and of its
    incident together. ``thread`` (a war-room thread's slug) and ``corrects`` (the row a correction
    corrects) are the war room's: its services check them before they call this.
    """
    return TimelineEntry.objects.create(
        incident=incident,
        major_incident=major_incident,
        kind=kind,
        message=message,
        data=data or {},
        actor=user_of(actor),
        thread=thread,
        corrects=corrects,
    )


def whole_minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def lock_incidents(pks: Iterable[int]) -> dict[int, Incident]:
    """Lock incident rows in ascending id order (PostgreSQL locks them in the ORDER BY order)."""
    rows = Incident.objects.select_for_update(no_key=True).filter(pk__in=set(pks)).order_by("pk")
    return {row.pk: row for row in rows}


def lock_incident(pk: int) -> Incident:
    return Incident.objects.select_for_update(no_key=True).get(pk=pk)


def lock_major_incident(mi: MajorIncident, *, with_children: bool = False) -> MajorIncident:
    """Lock an MI after its incident (and, asked, the incident's children), in the lock order.

    The returned MI is fresh from the database, its ``incident`` the locked row.
    """
    incident_id = MajorIncident.objects.values_list("incident_id", flat=True).get(pk=mi.pk)
    pks = [incident_id]
    if with_children:
        pks += Incident.objects.filter(parent_id=incident_id).values_list("pk", flat=True)
    incident = lock_incidents(pks)[incident_id]
    locked = MajorIncident.objects.select_for_update(no_key=True).get(pk=mi.pk)
    locked.incident = incident
    return locked
