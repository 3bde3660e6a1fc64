"""What publishing a review does besides its own rows: the timeline frozen into the document,
the summary sent through comms to IT leadership and the ITSM managers (the plan's "PIR summary"
row, trigger ``pir_published``), and for a P1 whose commander chose it, the public version on the
status page (``comms.services.postmortem``)."""

from __future__ import annotations

from typing import Any

from comms.models import UpdateType
from comms.services import from_template, post_public_postmortem
from incidents.models import MajorIncident, Priority
from incidents.selectors.actors import Actor

from ..models import PostIncidentReview, ReviewActionStatus
from ..selectors.document import timeline_rows
from ..selectors.reviews import review_link

# The summary's first part is read in an email and a chat message: kept short, the whole
# review is a link away.
SUMMARY_CHARS = 1_500


def frozen_timeline(review: PostIncidentReview) -> list[dict[str, Any]]:
    """The war-room log as the published document keeps it."""
    return timeline_rows(review.major_incident)


def _clip(text: str, limit: int = SUMMARY_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def summary_context(review: PostIncidentReview, mi: MajorIncident) -> dict[str, Any]:
    """What the "PIR summary" template is given: ``impact`` (the one the seeded template shows:
    summary, root causes, action items and the link, in a few lines), and each part apart for a
    template an operator rewrites (``pir_summary``, ``root_causes``, ``action_items``,
    ``review_url``)."""
    items = review.action_items.exclude(status=ReviewActionStatus.CANCELLED).count()
    url = review_link(mi)
    text = "\n\n".join(
        part
        for part in (
            _clip(review.summary),
            f"Root causes: {_clip(review.root_causes, 800)}" if review.root_causes.strip() else "",
            f"Action items agreed: {items}.",
            f"The review: {url}",
        )
        if part
    )
    return {
        "impact": text,
        "pir_summary": _clip(review.summary),
        "root_causes": _clip(review.root_causes, 800),
        "action_items": items,
        "review_url": url,
    }


def after_publish(review: PostIncidentReview, mi: MajorIncident, actor: Actor) -> None:
    """Callers hold the MI's lock; the slots make each message once per MI."""
    from_template(
        mi=mi,
        update_type=UpdateType.PIR_SUMMARY,
        slot="pir_summary",
        actor=actor,
        context=summary_context(review, mi),
    )
    if (
        review.post_publicly
        and review.public_summary.strip()
        and mi.incident.priority == Priority.CRITICAL
    ):
        post_public_postmortem(mi=mi, text=review.public_summary.strip(), actor=actor)
