"""Reads of the incidents app that pages, the API, tasks and services share, re-exported by name.

``cmdb`` (impact analysis in SQL) is used as a module: ``selectors.cmdb.impact(ci_id)``;
``filters`` holds the FilterSets the API and the web lists share.
"""

from . import cmdb, filters
from .access import (
    ACTIONS,
    COMMAND_PERM,
    DECLARE_PERM,
    ROLE_PERMISSIONS,
    Action,
    action_of,
    can,
    can_command,
    can_declare,
    can_manage,
    can_override_priority,
    ensure,
    refusal,
    restrict,
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
    Move,
    active_roles,
    allowed_moves,
    current_commander,
    governing_major_incident,
    manageable,
    mi_timeline,
    milestone_not_yet,
    move_not_permitted,
    prefetch_active_roles,
    raci_holders,
    sweep_candidates,
)
from .properties import (
    PROPERTY_CACHE_KEY,
    PROPERTY_CACHE_SECONDS,
    get_property,
)

__all__ = [
    "ACTIONS",
    "COMMAND_PERM",
    "DECLARE_PERM",
    "IC",
    "LIVE_MI_STATUSES",
    "MI_MOVES",
    "PROPERTY_CACHE_KEY",
    "PROPERTY_CACHE_SECONDS",
    "ROLE_PERMISSIONS",
    "Action",
    "Move",
    "action_of",
    "active_roles",
    "actor_id",
    "allowed_moves",
    "can",
    "can_command",
    "can_declare",
    "can_manage",
    "can_override_priority",
    "cmdb",
    "current_commander",
    "ensure",
    "filters",
    "get_property",
    "governing_major_incident",
    "manageable",
    "mi_timeline",
    "milestone_not_yet",
    "move_not_permitted",
    "name_of",
    "prefetch_active_roles",
    "raci_holders",
    "refusal",
    "restrict",
    "sweep_candidates",
    "user_of",
]
