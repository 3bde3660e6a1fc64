"""What the review document is pre-filled with, read from the MI: its timeline from the war-room
log (milestones marked, each row linking to its entry in the war room)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from incidents.models import MajorIncident, TimelineKind
from incidents.selectors import name_of

# The rows the review's timeline marks as milestones.
MILESTONE_KINDS = (
    TimelineKind.DECLARED,
    TimelineKind.MI_STATUS_CHANGED,
    TimelineKind.MILESTONE,
    TimelineKind.ESCALATED,
    TimelineKind.RESOLVED,
)


def timeline_rows(mi: MajorIncident) -> list[dict[str, Any]]:
    """The MI's log in order, as the review shows and freezes it. Each row: ``id``, ``at``
    (ISO 8601, UTC), ``kind``, ``label``, ``text``, ``milestone``, ``url`` (the entry in the war
    room), ``actor`` (a name, or "")."""
    page = reverse("warroom:page", args=[mi.number])
    entries = mi.timeline.select_related("actor").order_by("created_at", "id")
    return [
        {
            "id": entry.pk,
            "at": entry.created_at.isoformat().replace("+00:00", "Z"),
            "kind": entry.kind,
            "label": entry.get_kind_display(),
            "text": entry.message,
            "milestone": entry.kind in MILESTONE_KINDS,
            "url": f"{page}#entry-{entry.pk}",
            "actor": name_of(entry.actor) if entry.actor else "",
        }
        for entry in entries
    ]
