"""The MI's stakeholder updates as the API and the war-room panel list them: newest first, each
with its delivery counted by outbox status, and the deliveries that failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from incidents.models import MajorIncident

from ..models import OutboxMessage, OutboxStatus, StakeholderUpdate, UpdateType
from . import messages

DELIVERY_STATUSES = tuple(OutboxStatus.values)


def updates_of(mi: MajorIncident) -> QuerySet[StakeholderUpdate]:
    """Newest first, author and approver joined, and ``delivery_<status>`` counts annotated:
    one query for the whole list, however many updates and outbox rows."""
    counts = {
        f"delivery_{status}": Count("outbox", filter=Q(outbox__status=status))
        for status in DELIVERY_STATUSES
    }
    return (
        StakeholderUpdate.objects.filter(major_incident=mi)
        .select_related("author", "approver")
        .annotate(**counts)
        .order_by("-created_at", "-id")
    )


def delivery_counts(update: StakeholderUpdate) -> dict[str, int]:
    """The counts ``updates_of`` annotated (counted afresh for an update read otherwise)."""
    if all(hasattr(update, f"delivery_{status}") for status in DELIVERY_STATUSES):
        return {status: getattr(update, f"delivery_{status}") for status in DELIVERY_STATUSES}
    rows = dict(
        OutboxMessage.objects.filter(update=update)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {status: rows.get(status, 0) for status in DELIVERY_STATUSES}


def failed_deliveries(update_ids: list[int]) -> dict[int, list[Any]]:
    """The failed (retrying) and dead outbox rows of these updates, by update id."""
    found: dict[int, list[Any]] = {}
    rows = (
        OutboxMessage.objects.filter(
            update_id__in=update_ids, status__in=[OutboxStatus.FAILED, OutboxStatus.DEAD]
        )
        .only("id", "update_id", "channel", "recipient", "status", "attempts", "last_error")
        .order_by("id")
    )
    for row in rows:
        assert row.update_id is not None
        found.setdefault(row.update_id, []).append(row)
    return found


@dataclass
class CannedResponse:
    """What the support team pastes into tickets, rendered now from the latest public update."""

    subject: str
    current_impact: str
    current_action: str
    user_action: str
    text: str
    based_on_update: int | None
    rendered_at: datetime


def canned_responses(mi: MajorIncident, *, now: datetime | None = None) -> list[CannedResponse]:
    """The MI's canned response(s) from the ``canned_response`` template (its security-safe one
    for a security MI under investigation), rendered at each call so it is always current."""
    now = now or timezone.now()
    template = messages.template_for(
        UpdateType.CANNED_RESPONSE, security=messages.security_templates(mi)
    )
    if template is None:
        return []
    public = messages.latest_public_update(mi)
    context = messages.mi_context(mi, now=now)
    if public is not None:
        # What the public was last told (a security MI's, legal-approved), not the statement
        # written at declaration: the support team repeats the status page.
        context["public_impact"] = public.current_impact
    parts = messages.render(template, context)
    text = "\n".join(
        part for part in (parts.current_impact, parts.current_action, parts.user_action) if part
    )
    return [
        CannedResponse(
            subject=parts.subject,
            current_impact=parts.current_impact,
            current_action=parts.current_action,
            user_action=parts.user_action,
            text=text,
            based_on_update=public.pk if public else None,
            rendered_at=now,
        )
    ]
