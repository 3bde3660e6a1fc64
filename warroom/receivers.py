"""The war room's receivers of lower-app signals: one-liners that call a war-room service."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from incidents import events as incident_events
from incidents.models import TimelineKind

from . import events, services
from .models import Fulfilment

# --- First-hour checkpoints: made at declaration, ticked by the events that fulfil them ---------


@receiver(incident_events.major_incident_declared, dispatch_uid="warroom.open_checkpoints")
def open_checkpoints(sender: Any, major_incident_id: int, **kwargs: Any) -> None:
    services.open_checkpoints(major_incident_id)


@receiver(incident_events.role_assigned, dispatch_uid="warroom.checkpoints.roles")
def roles_assigned(sender: Any, major_incident_id: int, **kwargs: Any) -> None:
    services.fulfil_when_met(major_incident_id, Fulfilment.ROLES_ASSIGNED, Fulfilment.PIR_OWNER)


@receiver(incident_events.milestone_recorded, dispatch_uid="warroom.checkpoints.milestones")
def milestone_recorded(sender: Any, major_incident_id: int, **kwargs: Any) -> None:
    services.fulfil_when_met(
        major_incident_id, Fulfilment.INTERNAL_UPDATE, Fulfilment.EXTERNAL_UPDATE
    )


@receiver(events.thread_opened, dispatch_uid="warroom.checkpoints.subsystem_owners")
def thread_opened(sender: Any, major_incident_id: int, **kwargs: Any) -> None:
    services.fulfil_when_met(major_incident_id, Fulfilment.SUBSYSTEM_OWNERS)


@receiver(events.assessment_revised, dispatch_uid="warroom.checkpoints.assessment")
def assessment_revised(sender: Any, major_incident_id: int, **kwargs: Any) -> None:
    services.fulfil_when_met(major_incident_id, Fulfilment.ASSESSMENT_WRITTEN)


@receiver(events.timeline_post_added, dispatch_uid="warroom.checkpoints.resolution_criteria")
def decision_posted(sender: Any, major_incident_id: int, kind: str = "", **kwargs: Any) -> None:
    if kind == TimelineKind.DECISION:  # "Resolved when …" (selectors.checkpoints)
        services.fulfil_when_met(major_incident_id, Fulfilment.RESOLUTION_CRITERIA)
