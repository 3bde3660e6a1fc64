"""Reads of the incidents app that pages, the API, tasks and services share, re-exported by name.

``cmdb`` (impact analysis in SQL) is used as a module: ``selectors.cmdb.impact(ci_id)``.
"""

from . import cmdb
from .access import (
    COMMAND_PERM,
    DECLARE_PERM,
    ROLE_PERMISSIONS,
    can_command,
    can_declare,
    can_manage,
    can_override_priority,
)
from .actors import (
    actor_id,
    name_of,
    user_of,
)
from .majors import (
    IC,
    LIVE_MI_STATUSES,
    MI_MOVES,
    active_roles,
    current_commander,
    governing_major_incident,
    raci_holders,
    sweep_candidates,
)
from .properties import (
    PROPERTY_CACHE_KEY,
    PROPERTY_CACHE_SECONDS,
    get_property,
)

__all__ = [
    "COMMAND_PERM",
    "DECLARE_PERM",
    "IC",
    "LIVE_MI_STATUSES",
    "MI_MOVES",
    "PROPERTY_CACHE_KEY",
    "PROPERTY_CACHE_SECONDS",
    "ROLE_PERMISSIONS",
    "active_roles",
    "actor_id",
    "can_command",
    "can_declare",
    "can_manage",
    "can_override_priority",
    "cmdb",
    "current_commander",
    "get_property",
    "governing_major_incident",
    "name_of",
    "raci_holders",
    "sweep_candidates",
    "user_of",
]
