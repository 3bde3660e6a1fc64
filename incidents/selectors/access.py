"""Who may do what: model permissions and the object permissions each RACI role brings."""

from __future__ import annotations

from ..models import (
    MajorIncident,
    RaciRole,
)
from .actors import Actor

DECLARE_PERM = "incidents.declare_majorincident"
# Commanding an MI means working its incident: the IC gains the MI's write powers, so only
# someone who may change incidents (technician and up) may hold the role; legal and users
# without a MIM Desk role may not.
COMMAND_PERM = "incidents.change_incident"

# Object permissions (django-guardian) each role brings on its MI.
_TEAM = {"view_majorincident", "post_timeline_majorincident", "edit_scratchpad_majorincident"}
ROLE_PERMISSIONS: dict[str, set[str]] = {role: set(_TEAM) for role in RaciRole.values} | {
    RaciRole.MAJOR_INCIDENT_MANAGER: _TEAM | {"manage_majorincident", "send_updates_majorincident"},
    RaciRole.COMMUNICATIONS_LEAD: _TEAM | {"send_updates_majorincident"},
    RaciRole.EXECUTIVE_SPONSOR: {"view_majorincident", "post_timeline_majorincident"},
    RaciRole.EXTERNAL_CONSULTANT: {"view_majorincident", "post_timeline_majorincident"},
}


def can_declare(actor: Actor | None) -> bool:
    return bool(actor is not None and actor.has_perm(DECLARE_PERM))


def can_command(user: Actor | None) -> bool:
    """Whether ``user`` may be made an MI's incident commander."""
    return bool(
        user is not None
        and user.is_authenticated
        and getattr(user, "is_active", False)
        and user.has_perm(COMMAND_PERM)
    )


def can_manage(actor: Actor | None, mi: MajorIncident) -> bool:
    """ITSM managers run every MI; its incident commander runs this one."""
    if actor is None or not actor.is_authenticated:
        return False
    return actor.has_perm(DECLARE_PERM) or actor.has_perm("incidents.manage_majorincident", mi)


def can_override_priority(actor: Actor | None) -> bool:
    return bool(actor is not None and actor.has_perm("incidents.override_priority"))
