"""The review's panel on the war-room page (registered with ``warroom.web.page`` at start-up):
on a resolved or closed MI its status, meeting, deadline and blockers, and the way to the editor.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from incidents.models import MajorIncident

from ..models import PostIncidentReview, ReviewStatus
from ..services import publish_blockers

TEMPLATE = "pir/_panel.html"


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What ``templates/pir/_panel.html`` needs; nothing is read for an open MI (no review)."""
    # The bare row: the panel shows none of the review's relations.
    review = None if mi.is_open else PostIncidentReview.objects.filter(major_incident=mi).first()
    unpublished = review is not None and review.status != ReviewStatus.PUBLISHED
    due = review.publish_due_at if review is not None else None
    return {
        "pir_review": review,
        "pir_blockers": len(publish_blockers(review)) if review is not None and unpublished else 0,
        "pir_overdue": unpublished and due is not None and due <= timezone.now(),
    }


def register() -> None:
    """Add the review's panel to the war-room page (``PirConfig.ready`` calls it)."""
    from warroom.web.page import ExtraPanel, register_panel

    register_panel(ExtraPanel(slot="side", area="pir", template=TEMPLATE, context=panel))
