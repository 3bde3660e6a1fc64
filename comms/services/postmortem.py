"""The public postmortem of an MI: the public version of its published review, on the status
page only.

It is a sent, public ``StakeholderUpdate`` of type ``pir_summary`` in the slot ``pir_public``
(one per MI, the unique slot decides between two callers): the status page reads public sent
updates, and shows the incident as ``postmortem`` once this one exists. It goes to no outbox:
the plan's audience had the internal summary already (``from_template(slot="pir_summary")``).
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from incidents.errors import DomainError
from incidents.models import MajorIncident, TimelineKind
from incidents.selectors import name_of, user_of
from incidents.selectors.actors import Actor
from incidents.services import record

from ..models import StakeholderUpdate, UpdateStatus, UpdateType
from ..selectors.status import POSTMORTEM_SLOT, STATUS_CACHE_KEYS
from .updates import MAX_PART

SLOT = POSTMORTEM_SLOT


def forget_status_page() -> None:
    """Dropped after commit, so the page shows the postmortem at its next request rather than
    after its freshness window."""
    cache.delete_many(list(STATUS_CACHE_KEYS))


def post_public_postmortem(*, mi: MajorIncident, text: str, actor: Actor) -> StakeholderUpdate:
    """Publish ``text`` as the MI's public postmortem (once; a second call returns the first).
    Callers decide who may (the review's publisher); this writes the row and its timeline row."""
    text = (text or "").strip()
    if not text:
        raise DomainError("a public postmortem needs its text", field="public_summary")
    if len(text) > MAX_PART:
        raise DomainError(
            f"the public summary is longer than {MAX_PART} characters", field="public_summary"
        )
    with transaction.atomic():
        now = timezone.now()
        update, created = StakeholderUpdate.objects.get_or_create(
            major_incident=mi,
            slot=SLOT,
            defaults={
                "update_type": UpdateType.PIR_SUMMARY,
                "subject": f"Postmortem: {mi.number}",
                "current_impact": text,
                "current_action": "The post-incident review is complete.",
                "user_action": "No action needed.",
                "status": UpdateStatus.SENT,
                "sent_at": now,
                "is_public": True,
                "automatic": False,
                "author": user_of(actor),
            },
        )
        if created:
            record(
                mi.incident,
                TimelineKind.COMMUNICATION,
                f"Public postmortem posted on the status page by {name_of(actor)}",
                actor=actor,
                major_incident=mi,
                data={"update": update.pk, "type": UpdateType.PIR_SUMMARY, "public": True},
            )
            transaction.on_commit(forget_status_page, robust=True)
    return update
