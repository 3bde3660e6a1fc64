"""What publishing a review does besides its own rows: the timeline frozen into the document,
and the summary sent through comms to IT leadership and the ITSM managers (the plan's "PIR
summary" row, trigger ``pir_published``)."""

from __future__ import annotations

from typing import Any

from comms.models import UpdateType
from comms.services import from_template
from incidents.models import MajorIncident
from incidents.selectors.actors import Actor

from ..models import PostIncidentReview
from ..selectors.document import timeline_rows


def frozen_timeline(review: PostIncidentReview) -> list[dict[str, Any]]:
    """The war-room log as the published document keeps it."""
    return timeline_rows(review.major_incident)


def after_publish(review: PostIncidentReview, mi: MajorIncident, actor: Actor) -> None:
    """Callers hold the MI's lock; the summary's slot makes it once per MI."""
    from_template(
        mi=mi,
        update_type=UpdateType.PIR_SUMMARY,
        slot="pir_summary",
        actor=actor,
        context={"impact": review.summary},
    )
