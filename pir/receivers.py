"""The PIR hangs off the incidents app's signals: each receiver is a one-liner that calls a PIR
service with the ids the signal carries."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from incidents import events

from .services import scheduling


@receiver(events.major_incident_state_changed, dispatch_uid="pir.major_incident_state_changed")
def major_incident_state_changed(
    sender: Any, major_incident_id: int, from_status: str, to_status: str, **kwargs: Any
) -> None:
    scheduling.major_incident_state_changed(major_incident_id, from_status, to_status)


@receiver(events.role_assigned, dispatch_uid="pir.role_assigned")
def role_assigned(
    sender: Any, major_incident_id: int, role: str, user_id: int, **kwargs: Any
) -> None:
    scheduling.invite_role_holder(major_incident_id, user_id)
