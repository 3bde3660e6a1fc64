"""Comms hangs off the domain signals of the incidents and war-room apps: each receiver is a
one-liner that calls a comms service with the ids the signal carries."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from incidents import events
from warroom import events as warroom_events

from .services import maintenance, notifications, paging


@receiver(events.major_incident_declared, dispatch_uid="comms.major_incident_declared")
def major_incident_declared(sender: Any, major_incident_id: int, **kwargs: Any) -> None:
    notifications.major_incident_declared(major_incident_id)


@receiver(events.major_incident_declared, dispatch_uid="comms.paging.major_incident_declared")
def page_on_declaration(sender: Any, major_incident_id: int, **kwargs: Any) -> None:
    paging.major_incident_declared(major_incident_id)


@receiver(events.incident_logged, dispatch_uid="comms.maintenance.incident_logged")
def incident_logged(sender: Any, incident_id: int, **kwargs: Any) -> None:
    maintenance.incident_logged(incident_id)


@receiver(events.major_incident_state_changed, dispatch_uid="comms.major_incident_state_changed")
def major_incident_state_changed(
    sender: Any, major_incident_id: int, from_status: str, to_status: str, **kwargs: Any
) -> None:
    notifications.major_incident_state_changed(major_incident_id, from_status, to_status)


@receiver(
    events.major_incident_state_changed, dispatch_uid="comms.paging.major_incident_state_changed"
)
def page_on_state_change(
    sender: Any, major_incident_id: int, from_status: str, to_status: str, **kwargs: Any
) -> None:
    paging.major_incident_state_changed(major_incident_id, from_status, to_status)


@receiver(events.role_assigned, dispatch_uid="comms.role_assigned")
def role_assigned(
    sender: Any, major_incident_id: int, role: str, user_id: int, **kwargs: Any
) -> None:
    notifications.role_assigned(major_incident_id, role, user_id)


@receiver(events.escalation_triggered, dispatch_uid="comms.escalation_triggered")
def escalation_triggered(
    sender: Any,
    major_incident_id: int,
    step_id: int,
    target_label: str,
    target_role: str = "",
    target_group_id: int | None = None,
    **kwargs: Any,
) -> None:
    notifications.escalation_triggered(
        major_incident_id, step_id, target_label, target_role, target_group_id
    )


@receiver(events.escalation_triggered, dispatch_uid="comms.paging.escalation_triggered")
def page_on_escalation(sender: Any, major_incident_id: int, step_id: int, **kwargs: Any) -> None:
    paging.escalation_triggered(major_incident_id, step_id)


@receiver(warroom_events.timeline_post_added, dispatch_uid="comms.timeline_post_added")
def timeline_post_added(
    sender: Any, major_incident_id: int, entry_id: int, kind: str, **kwargs: Any
) -> None:
    notifications.timeline_post_added(major_incident_id, entry_id, kind)
