"""Domain operations (writes) of the incidents app, re-exported by name.

Every change of state goes through one function here that, in one transaction, writes the change
and its row in the timeline. Views, serializers, forms, admin actions and tasks call these
functions and hold no rules of their own. Modules import only downward: ``common`` and
``enqueue`` first, then incidents and the CMDB, then major incidents, rules and escalations.
"""

from . import tokens
from .cmdb import (
    delete_configuration_item,
    reconcile_affected_users,
    refresh_affected_users_now,
    save_configuration_item,
    set_dependencies,
)
from .common import (
    record,
    whole_minutes,
)
from .enqueue import (
    evaluate_rules_after_commit,
    evaluate_rules_of_incidents_after_commit,
    refresh_affected_users,
)
from .escalations import (
    evaluate_escalations,
)
from .incidents import (
    PRIORITY_MATRIX,
    UPDATABLE_FIELDS,
    acknowledge_incident,
    check_incident,
    compute_priority,
    create_incident,
    link_incident,
    mark_under_maintenance,
    resolve_incident,
    update_incident,
)
from .majors import (
    EDITABLE_MI_FIELDS,
    assign_role,
    declare_major_incident,
    remove_role,
    set_milestones,
    stakeholder_impact_statement,
    transition_major_incident,
    update_major_incident,
)
from .problems import (
    save_change,
    save_problem,
    save_problem_task,
)
from .properties import (
    set_property,
)
from .rules import (
    FLAG_REASON_MAX_LENGTH,
    Outcome,
    accept_candidate,
    auto_declare_sweep,
    dry_run,
    evaluate_incident,
    evaluate_incidents,
    flag_major_incident,
    match_rule,
    pick_commander,
    reject_candidate,
)
from .users import (
    ROLE_GROUPS,
    set_user_roles,
    sync_roles_from_idp,
)

__all__ = [
    "EDITABLE_MI_FIELDS",
    "FLAG_REASON_MAX_LENGTH",
    "PRIORITY_MATRIX",
    "ROLE_GROUPS",
    "UPDATABLE_FIELDS",
    "Outcome",
    "accept_candidate",
    "acknowledge_incident",
    "assign_role",
    "auto_declare_sweep",
    "check_incident",
    "compute_priority",
    "create_incident",
    "declare_major_incident",
    "delete_configuration_item",
    "dry_run",
    "evaluate_escalations",
    "evaluate_incident",
    "evaluate_incidents",
    "evaluate_rules_after_commit",
    "evaluate_rules_of_incidents_after_commit",
    "flag_major_incident",
    "link_incident",
    "mark_under_maintenance",
    "match_rule",
    "pick_commander",
    "reconcile_affected_users",
    "record",
    "refresh_affected_users",
    "refresh_affected_users_now",
    "reject_candidate",
    "remove_role",
    "resolve_incident",
    "save_change",
    "save_configuration_item",
    "save_problem",
    "save_problem_task",
    "set_dependencies",
    "set_milestones",
    "set_property",
    "set_user_roles",
    "stakeholder_impact_statement",
    "sync_roles_from_idp",
    "tokens",
    "transition_major_incident",
    "update_incident",
    "update_major_incident",
    "whole_minutes",
]
