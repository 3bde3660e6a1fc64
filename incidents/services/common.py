"""What every service shares: the acting user and the timeline row each change writes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..models import (
    Incident,
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
        actor=user_of(actor),
    )


def whole_minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
